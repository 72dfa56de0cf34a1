//! Helpers shared by the CLI's integration tests.

#![allow(dead_code)]

mod js_app;
#[allow(unused_imports)]
pub use js_app::{JsAppOnServer, Killed, eventually, get};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// No helper hands out a "free port": a port found free and given to a child later may be taken
// in between. A test binds its own listeners and keeps them, or lets the child bind port 0 and
// reads the address it prints.

/// A child's stdout and stderr, collected line by line (a thread per stream keeps the pipes
/// drained).
#[derive(Clone)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    /// Collects `child`'s piped stdout and stderr.
    pub fn of(child: &mut Child) -> Self {
        let lines = Self(Arc::new(Mutex::new(Vec::new())));
        let streams = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ];
        for stream in streams.into_iter().flatten() {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.0.lock().expect("not poisoned").push(l);
                }
            });
        }
        lines
    }

    /// Every line so far.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().expect("not poisoned").clone()
    }

    /// How many lines have come.
    pub fn seen(&self) -> usize {
        self.0.lock().expect("not poisoned").len()
    }

    /// Everything so far, one line each.
    pub fn output(&self) -> String {
        self.all().join("\n")
    }

    /// Waits until a line after the first `from` lines contains `needle`; returns that line.
    pub fn wait_for(&self, from: usize, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Some(l) = self
                .0
                .lock()
                .expect("not poisoned")
                .iter()
                .skip(from)
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no line with {needle:?} in time; output:\n{}",
            self.output()
        );
    }
}

/// The `http://host:port` that follows `marker` in `line` (up to the next space), e.g. the
/// address a server printed once it was bound.
pub fn url_after(line: &str, marker: &str) -> String {
    let rest = line
        .split_once(marker)
        .unwrap_or_else(|| panic!("{marker:?} is not in {line:?}"))
        .1;
    let url = rest.split_whitespace().next().unwrap_or_default();
    assert!(
        url.starts_with("http://")
            && url
                .rsplit(':')
                .next()
                .is_some_and(|p| p.parse::<u16>().is_ok_and(|p| p != 0)),
        "no bound address after {marker:?} in {line:?}"
    );
    url.to_string()
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
    configured_shop_with(dir, &[])
}

/// [`configured_shop`], `configure` given `flags` (e.g. `--transport connect`).
pub fn configured_shop_with(dir: &Path, flags: &[&str]) -> PathBuf {
    cargo_new(dir, "shop", false);
    let project = dir.join("shop");
    let mut configure = vec!["configure"];
    configure.extend_from_slice(flags);
    let out = ok(&cargo_inngest(&project, &configure));
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

/// A loopback port held taken for as long as the listener lives, and the error the OS gives a
/// second bind of it (as a server on that port would see it).
pub fn taken_port() -> (std::net::TcpListener, u16, String) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("an address").port();
    let os_error = std::net::TcpListener::bind(("127.0.0.1", port))
        .expect_err("the port is taken")
        .to_string();
    (taken, port, os_error)
}
