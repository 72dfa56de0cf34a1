//! Waiting for a fresh app to be ready, and learning how it talks to the dev server:
//!
//! - **serve**: it answers HTTP at its serve URL. It is synced with a `PUT` there, after which
//!   it registers its functions with the dev server its `INNGEST_DEV` names; the `PUT` is the
//!   dev server's own `AppSyncer` call, the one `inngest dev -u` makes (see
//!   [`Server::sync_app`]).
//! - **connect**: it dials the dev server's gateway. Its `WORKER_CONNECT` syncs it; it is ready
//!   once the gateway has a connection that was not there before it started.
//!
//! A build whose transport is known from the one before is only waited for that way.

use std::collections::HashSet;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use inngest_devserver::SyncError;

use super::process::Job;
use super::server::Server;

/// How long a fresh app gets to serve or connect.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How an app reaches the dev server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// It serves HTTP; the server calls it.
    Serve,
    /// It is a connect worker on the server's gateway.
    Connect,
}

/// Why a started app is not ready.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotReady {
    /// It exited first.
    #[error("it exited ({0}) before serving")]
    Exited(ExitStatus),
    /// It answered the sync with an error.
    #[error("it refused the sync")]
    Refused(#[source] SyncError),
    /// It neither served nor connected in time.
    #[error("it did not answer within {0:?}")]
    NoAnswer(Duration, #[source] SyncError),
    /// A connect worker's build did not reach the gateway in time.
    #[error("its connect worker did not reach the dev server's gateway within {0:?}")]
    NotConnected(Duration),
}

/// What is known before the app starts: how the last build talked, and the gateway's
/// connections then.
pub struct Before {
    /// The transport of the build before, if one was ready.
    pub transport: Option<Transport>,
    /// The gateway's connection ids before the start (`None`: the server cannot tell).
    pub connections: Option<HashSet<String>>,
}

impl Before {
    /// Takes stock of `server` before a start.
    pub fn of(server: &Server, transport: Option<Transport>) -> Self {
        Self {
            transport,
            connections: server.connect_connections(),
        }
    }
}

/// Waits until the app in `job` serves at `app_url` (and is synced) or its connect worker is on
/// the gateway, retrying every 20 ms, until it exits or [`READY_TIMEOUT`] passes.
pub async fn until_ready(
    server: &Server,
    app_url: &str,
    job: &mut Job,
    before: &Before,
) -> Result<Transport, NotReady> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last_sync_error = None;
    loop {
        if let Some(status) = job.try_exited() {
            return Err(NotReady::Exited(status));
        }
        if before.transport != Some(Transport::Serve) {
            if let (Some(old), Some(now)) = (&before.connections, server.connect_connections()) {
                if now.iter().any(|c| !old.contains(c)) {
                    return Ok(Transport::Connect);
                }
            }
        }
        if before.transport != Some(Transport::Connect) {
            match server.sync_app(app_url).await {
                Ok(_) => return Ok(Transport::Serve),
                Err(e @ SyncError::Refused { .. }) => return Err(NotReady::Refused(e)),
                Err(e) => last_sync_error = Some(e),
            }
        }
        if Instant::now() >= deadline {
            return Err(match last_sync_error {
                Some(e) => NotReady::NoAnswer(READY_TIMEOUT, e),
                None => NotReady::NotConnected(READY_TIMEOUT),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::dev::console::{Console, Source};

    #[tokio::test]
    async fn an_app_that_exits_first_is_not_ready() {
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
        let before = Before::of(&server, None);
        // Nothing can listen on port 0: the sync is retried until the job's exit is seen.
        let ready = until_ready(&server, "http://127.0.0.1:0/api/inngest", &mut job, &before).await;
        assert!(
            matches!(&ready, Err(NotReady::Exited(s)) if s.code() == Some(3)),
            "{ready:?}"
        );
        server.stop().await;
    }
}
