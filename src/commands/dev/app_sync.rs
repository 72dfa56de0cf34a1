//! Waiting for a fresh app to serve, then syncing it: a `PUT` to its serve URL, after which it
//! registers its functions with the dev server its `INNGEST_DEV` names.
//!
//! The `PUT` is the dev server's own [`AppSyncer`](inngest_devserver::AppSyncer) call, the one
//! `inngest dev -u` makes. It is the same call whichever server the app registers with, since
//! the app, not the caller, picks where to register.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use inngest_devserver::SyncError;
use serde_json::{Value, json};

use super::process::Job;
use super::server::Server;

/// How long a fresh app gets to accept connections.
const SERVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a started app does not serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotServing {
    /// It exited first.
    #[error("it exited ({0}) before serving")]
    Exited(ExitStatus),
    /// It answered the sync with an error.
    #[error("it refused the sync")]
    Refused(#[source] SyncError),
    /// It never accepted a connection.
    #[error("it did not answer within {0:?}")]
    NoAnswer(Duration, #[source] SyncError),
}

/// Syncs the app at `app_url` against `server`, retrying while it does not accept connections
/// yet, until it answers, exits, or [`SERVE_TIMEOUT`] passes.
pub async fn until_synced(server: &Server, app_url: &str, job: &mut Job) -> Result<(), NotServing> {
    let official = OfficialSyncer::new();
    let deadline = Instant::now() + SERVE_TIMEOUT;
    loop {
        if let Some(status) = job.try_exited() {
            return Err(NotServing::Exited(status));
        }
        let synced = match server {
            Server::Embedded(s) => s.sync_app(app_url).await,
            Server::Official { .. } => official.sync(app_url).await,
        };
        match synced {
            Ok(_) => return Ok(()),
            Err(e @ SyncError::Refused { .. }) => return Err(NotServing::Refused(e)),
            Err(e) if Instant::now() >= deadline => {
                return Err(NotServing::NoAnswer(SERVE_TIMEOUT, e));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The dev server's [`AppSyncer::sync`](inngest_devserver::AppSyncer::sync) call, made without
/// an embedded server. The official server needs no other call: only the caller differs,
/// because `inngest-devserver` gives an `AppSyncer` only with a running `DevServer` (its
/// constructor is crate-private). Once it has a public one, this goes.
struct OfficialSyncer {
    http: reqwest::Client,
}

impl OfficialSyncer {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    async fn sync(&self, url: &str) -> Result<Value, SyncError> {
        let resp = self
            .http
            .put(url)
            .header("x-inngest-server-kind", "dev")
            .json(&json!({ "url": url }))
            .send()
            .await
            .map_err(|source| SyncError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(SyncError::Refused {
                url: url.to_string(),
                status: status.as_u16(),
                body,
            });
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }
}
