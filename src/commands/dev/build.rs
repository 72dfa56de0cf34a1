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

/// Why cargo could not be run (a failed build is a [`Built::Failed`], not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Cargo could not be started.
    #[error("cargo could not be started")]
    Spawn(#[source] std::io::Error),
    /// Its output or exit status could not be read.
    #[error("cargo's output could not be read")]
    Read(#[source] std::io::Error),
}

/// Runs the build; `Err` only when cargo itself cannot run.
pub async fn build(spec: &BuildSpec) -> Result<Built, BuildError> {
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
    let mut child = cmd.spawn().map_err(BuildError::Spawn)?;
    let no_pipe = || BuildError::Read(std::io::Error::other("cargo's output is not piped"));
    let mut stdout = child.stdout.take().ok_or_else(no_pipe)?;
    let mut stderr = child.stderr.take().ok_or_else(no_pipe)?;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (a, b, status) = tokio::join!(
        stdout.read_to_end(&mut out),
        stderr.read_to_end(&mut err),
        child.wait()
    );
    a.map_err(BuildError::Read)?;
    b.map_err(BuildError::Read)?;
    let status = status.map_err(BuildError::Read)?;
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
