//! The dev server `dev` runs: the embedded one (in process), the official one (the `inngest`
//! binary on PATH, else `npx inngest-cli@latest dev`), or whichever starts (`auto`).

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use inngest_devserver::{AppSyncer, DevServer, DevServerConfig, DevServerError, SyncError};
use serde_json::Value;
use tokio::process::Command;

use super::console::{Console, Source};
use super::process::{Job, JobError};

/// Which dev server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The official one if it starts and answers in time, else the embedded one.
    Auto,
    /// `inngest-devserver`, in process.
    Embedded,
    /// The official Inngest dev server.
    Official,
}

/// Settings for starting a server.
pub struct Settings {
    pub choice: Choice,
    /// The port (0: a free one).
    pub port: u16,
    pub state: Option<PathBuf>,
    pub app_url: String,
    pub official_timeout: Duration,
}

/// Why no dev server started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The embedded server did not start (with `--server embedded`, or as `auto`'s fallback).
    #[error("the embedded dev server did not start")]
    Embedded(#[source] DevServerError),
    /// The official server did not start (with `--server official`).
    #[error("the official dev server did not start")]
    Official(#[source] OfficialError),
}

/// Why the official dev server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OfficialError {
    /// With `--port 0`, no port could be found to give it.
    #[error("no free port could be found for it")]
    NoFreePort(#[source] std::io::Error),
    /// Neither `inngest` nor `npx` could be run.
    #[error("it could not be run")]
    Spawn(#[source] JobError),
    /// It exited before answering.
    #[error("it exited with {status}{}", said(last))]
    Exited {
        /// How it exited.
        status: ExitStatus,
        /// Its last lines of output (npm's log, say).
        last: Vec<String>,
    },
    /// It did not answer `GET /dev` in time.
    #[error("it did not answer within {after:?}{}", said(last))]
    NoAnswer {
        /// How long it was given.
        after: Duration,
        /// Its last lines of output.
        last: Vec<String>,
    },
}

/// `; it said:` and the lines, indented, or nothing when there are none.
fn said(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("; its last lines:");
    for l in lines {
        out.push_str("\n    ");
        out.push_str(l);
    }
    out
}

/// A running dev server.
pub enum Server {
    /// In process.
    Embedded(DevServer),
    /// A child process.
    Official {
        job: Job,
        url: String,
        /// The embedded server's syncer, on its own.
        syncer: AppSyncer,
    },
}

/// How a server was lost while `dev` ran.
#[derive(Debug)]
pub enum Failure {
    /// The embedded server's engine panicked, with this message.
    Panicked(String),
    /// The official server's process ended: how, and its last lines.
    Exited(String),
}

impl Server {
    /// The server's base URL (what the app gets as `INNGEST_DEV`).
    pub fn url(&self) -> String {
        match self {
            Server::Embedded(s) => s.url().to_string(),
            Server::Official { url, .. } => url.clone(),
        }
    }

    /// `embedded` or `official`.
    pub fn kind(&self) -> &'static str {
        match self {
            Server::Embedded(_) => "embedded",
            Server::Official { .. } => "official",
        }
    }

    /// Syncs the app at `url` once, with the dev server's `AppSyncer`: the embedded server's
    /// own, or one on its own for the official server. The official server needs no other
    /// call: the app, not the caller, picks the server it registers with (its `INNGEST_DEV`).
    pub async fn sync_app(&self, url: &str) -> Result<Value, SyncError> {
        match self {
            Server::Embedded(s) => s.sync_app(url).await,
            Server::Official { syncer, .. } => syncer.sync(url).await,
        }
    }

    /// The connection ids of the connect workers the server has, of every app; `None` when it
    /// cannot tell (the official server's gateway is not ours to look into).
    pub fn connect_connections(&self) -> Option<std::collections::HashSet<String>> {
        match self {
            Server::Embedded(s) => Some(
                s.connect_workers()
                    .into_values()
                    .flatten()
                    .map(|w| w.connection_id)
                    .collect(),
            ),
            Server::Official { .. } => None,
        }
    }

    /// Starts the chosen server.
    pub async fn start(settings: &Settings, console: &Console) -> Result<Server, ServerError> {
        match settings.choice {
            Choice::Embedded => embedded(settings).await,
            Choice::Official => official(settings, console)
                .await
                .map_err(ServerError::Official),
            Choice::Auto => match official(settings, console).await {
                Ok(server) => {
                    console.line(Source::Dev, "using the official dev server");
                    Ok(server)
                }
                Err(why) => {
                    console.lines(
                        Source::Dev,
                        &format!(
                            "the official dev server is unavailable: {}\nusing the embedded one",
                            inngest_runtime::error::chain(&why)
                        ),
                    );
                    embedded(settings).await
                }
            },
        }
    }

    /// Resolves when the server is gone while `dev` runs: the embedded server's engine died (a
    /// panic), or the official server's process ended.
    pub async fn failed(&mut self) -> Failure {
        match self {
            Server::Embedded(s) => Failure::Panicked(s.failed().await),
            Server::Official { job, .. } => {
                let how = super::process::how_it_ended(job.exited().await);
                let last = job.last_words().await;
                Failure::Exited(if last.is_empty() {
                    how
                } else {
                    format!("{how}; its last lines: {}", last.join(" | "))
                })
            }
        }
    }

    /// Stops it.
    pub async fn stop(self) {
        match self {
            Server::Embedded(s) => s.stop().await,
            Server::Official { job, .. } => {
                job.stop(Duration::from_secs(5)).await;
            }
        }
    }
}

async fn embedded(settings: &Settings) -> Result<Server, ServerError> {
    let server = DevServer::start(DevServerConfig {
        port: settings.port,
        state: settings.state.clone(),
        ..DevServerConfig::default()
    })
    .await
    .map_err(ServerError::Embedded)?;
    Ok(Server::Embedded(server))
}

/// The `inngest` executable on PATH, if any.
fn inngest_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("inngest"))
        .find(|p| p.is_file())
}

async fn official(settings: &Settings, console: &Console) -> Result<Server, OfficialError> {
    // It is a child told its port, so `--port 0` is resolved here.
    let port = match settings.port {
        0 => super::options::free_port().map_err(OfficialError::NoFreePort)?,
        p => p,
    };
    let port_arg = port.to_string();
    let args = [
        "dev",
        "-u",
        &settings.app_url,
        "--no-discovery",
        "-p",
        &port_arg,
    ];
    let mut cmd = match inngest_on_path() {
        Some(bin) => {
            console.line(
                Source::Dev,
                &format!("starting {} {}", bin.display(), args.join(" ")),
            );
            Command::new(bin)
        }
        None => {
            console.line(
                Source::Dev,
                &format!(
                    "starting npx --yes --ignore-scripts=false inngest-cli@latest {}",
                    args.join(" ")
                ),
            );
            let mut c = Command::new("npx");
            c.args(["--yes", "--ignore-scripts=false", "inngest-cli@latest"]);
            c
        }
    };
    cmd.args(args);
    let mut job = Job::start(cmd, console, Source::Server).map_err(OfficialError::Spawn)?;
    let url = format!("http://127.0.0.1:{port}");
    let http = super::http_client();
    // Checked: the option is bounded, but a deadline past what `Instant` holds is none at all.
    let deadline = Instant::now().checked_add(settings.official_timeout);
    loop {
        if let Some(status) = job.try_exited() {
            return Err(OfficialError::Exited {
                status,
                last: job.last_words().await,
            });
        }
        if http
            .get(format!("{url}/dev"))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(Server::Official {
                job,
                url,
                syncer: AppSyncer::new(),
            });
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let last = job.last_lines();
            job.stop(Duration::from_secs(2)).await;
            return Err(OfficialError::NoAnswer {
                after: settings.official_timeout,
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
