//! Helpers shared by the CLI's integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs `cargo inngest <args>` in `dir`.
pub fn cargo_inngest(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .arg("inngest")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// Asserts success; returns stdout.
pub fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `cargo new` of a binary or library named `name` in `dir`.
pub fn cargo_new(dir: &Path, name: &str, lib: bool) {
    let status = Command::new("cargo")
        .args([
            "new",
            "-q",
            "--vcs",
            "none",
            if lib { "--lib" } else { "--bin" },
            name,
        ])
        .current_dir(dir)
        .status()
        .expect("cargo new");
    assert!(status.success());
}

/// The target directory scratch projects build in: shared, so their dependencies build once.
pub fn scratch_target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("scaffold-check")
}

/// A fresh `cargo new` binary named `shop` in `dir`, configured with no flags (so against the
/// runtime of this checkout, by a path), with a `welcome-user` workflow, and this workspace's
/// Cargo.lock (no network, shared builds).
pub fn configured_shop(dir: &Path) -> PathBuf {
    cargo_new(dir, "shop", false);
    let project = dir.join("shop");
    let out = ok(&cargo_inngest(&project, &["configure"]));
    assert!(
        out.contains("added dependency inngest-runtime: path ")
            && out.contains("(the checkout this cargo-inngest was built from)"),
        "{out}"
    );
    ok(&cargo_inngest(
        &project,
        &[
            "make",
            "workflow",
            "WelcomeUser",
            "--event",
            "user/user.created",
        ],
    ));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
        project.join("Cargo.lock"),
    )
    .expect("lock copied");
    project
}
