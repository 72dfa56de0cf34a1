//! Building the app: `cargo build --message-format=json-render-diagnostics`, reading the
//! executable cargo reports (never `cargo run`) and the rendered errors when it fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cargo_metadata::Message;
use tokio::io::AsyncReadExt as _;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// The package's Cargo.toml.
    pub manifest: PathBuf,
    /// The package name.
    pub package: String,
    /// A binary name, when the package has several.
    pub bin: Option<String>,
    /// `--release`.
    pub release: bool,
}

/// How a build ended. On failure, `errors` holds what rustc and cargo reported.
#[derive(Debug)]
pub enum Built {
    /// The executable to run.
    Ok {
        /// Its path.
        executable: PathBuf,
        /// How long cargo took.
        took: Duration,
    },
    /// Compiler errors, rendered as cargo prints them.
    Failed {
        /// The rendered diagnostics (errors first).
        errors: String,
        /// How long cargo took.
        took: Duration,
    },
}

/// Runs the build; `Err` only when cargo itself cannot run.
pub async fn build(spec: &BuildSpec) -> anyhow::Result<Built> {
    let started = Instant::now();
    let mut cmd =
        tokio::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg("build")
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&spec.manifest)
        .arg("-p")
        .arg(&spec.package)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match &spec.bin {
        Some(b) => {
            cmd.arg("--bin").arg(b);
        }
        None => {
            cmd.arg("--bins");
        }
    }
    if spec.release {
        cmd.arg("--release");
    }
    let mut child = cmd.spawn()?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("cargo has no stdout"))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("cargo has no stderr"))?;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (a, b, status) = tokio::join!(
        stdout.read_to_end(&mut out),
        stderr.read_to_end(&mut err),
        child.wait()
    );
    a?;
    b?;
    let status = status?;
    let took = started.elapsed();
    let mut executable = None;
    for message in Message::parse_stream(out.as_slice()).flatten() {
        if let Message::CompilerArtifact(artifact) = message {
            let ours = artifact.target.kind.iter().any(|k| k.to_string() == "bin")
                && artifact.manifest_path.as_std_path() == spec.manifest
                && spec.bin.as_ref().is_none_or(|b| artifact.target.name == *b);
            if ours {
                if let Some(exe) = artifact.executable {
                    executable = Some(exe.into_std_path_buf());
                }
            }
        }
    }
    match (status.success(), executable) {
        (true, Some(executable)) => Ok(Built::Ok { executable, took }),
        (true, None) => Ok(Built::Failed {
            errors: format!("cargo built {} but reported no binary to run", spec.package),
            took,
        }),
        (false, _) => {
            // With json-render-diagnostics cargo renders rustc's diagnostics on stderr; keep
            // them, and drop its progress lines.
            let stderr = String::from_utf8_lossy(&err);
            let progress = [
                "Compiling ",
                "Checking ",
                "Blocking ",
                "Building ",
                "Finished ",
                "Locking ",
                "Updating ",
            ];
            let errors: String = stderr
                .lines()
                .filter(|l| !progress.iter().any(|p| l.trim_start().starts_with(p)))
                .map(|l| format!("{l}\n"))
                .collect();
            Ok(Built::Failed { errors, took })
        }
    }
}
