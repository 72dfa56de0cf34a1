//! Waiting for a fresh app to serve, then syncing it: a `PUT` to its serve URL, after which it
//! registers its functions with the dev server its `INNGEST_DEV` names.
//!
//! The `PUT` is the dev server's own `AppSyncer` call, the one `inngest dev -u` makes (see
//! [`Server::sync_app`]).

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use inngest_devserver::SyncError;

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
    let deadline = Instant::now() + SERVE_TIMEOUT;
    loop {
        if let Some(status) = job.try_exited() {
            return Err(NotServing::Exited(status));
        }
        match server.sync_app(app_url).await {
            Ok(_) => return Ok(()),
            Err(e @ SyncError::Refused { .. }) => return Err(NotServing::Refused(e)),
            Err(e) if Instant::now() >= deadline => {
                return Err(NotServing::NoAnswer(SERVE_TIMEOUT, e));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::dev::console::{Console, Source};

    #[tokio::test]
    async fn an_app_that_exits_first_is_not_serving() {
        let server = inngest_devserver::DevServer::start(inngest_devserver::DevServerConfig {
            port: 0,
            ..Default::default()
        })
        .await
        .expect("the embedded server starts");
        let server = Server::Embedded(server);
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let mut job = Job::start(cmd, &Console::new(), Source::App).expect("sh starts");
        // Nothing can listen on port 0: the sync is retried until the job's exit is seen.
        let synced = until_synced(&server, "http://127.0.0.1:0/api/inngest", &mut job).await;
        assert!(
            matches!(&synced, Err(NotServing::Exited(s)) if s.code() == Some(3)),
            "{synced:?}"
        );
        server.stop().await;
    }
}
