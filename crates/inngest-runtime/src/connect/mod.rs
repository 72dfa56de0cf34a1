//! Connect mode: the app dials out to Inngest over a WebSocket and runs its workflows there,
//! with no public HTTP endpoint (feature `connect`).
//!
//! A [`Worker`] asks the start API (`POST {api}/v0/connect/start`) for a gateway, opens the
//! socket with subprotocol `v0.connect.inngest.com`, goes through the handshake (`GATEWAY_HELLO`,
//! `WORKER_CONNECT`, `GATEWAY_CONNECTION_READY`, `WORKER_READY`), then acknowledges each
//! executor request, runs it on the same engine as serve mode, extends its lease while it runs,
//! and sends the reply (through the flush API, `POST {api}/v0/connect/flush`, when the gateway
//! does not acknowledge it within 5 s or no connection is up). It heartbeats at the interval the
//! gateway gives, reconnects with capped backoff when the connection is lost, moves to a new
//! gateway on `GATEWAY_CLOSING`, and on shutdown sends `WORKER_PAUSE` and finishes what is in
//! flight before it closes. Requests in flight outlive the connection they came on: a broken
//! socket or a closing gateway does not stop a running step.
//!
//! ```no_run
//! # use inngest_runtime::{App, Inngest};
//! # async fn run(app: App) -> Result<(), inngest_runtime::connect::ConnectError> {
//! let worker = inngest_runtime::connect::Worker::new(app);
//! let state = worker.state(); // connecting, active, paused, reconnecting, closed
//! worker.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod api;
mod flight;
mod session;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::App;
use crate::serve::ServeHandler;

pub use api::ApiError;

/// Where a worker stands; [`Worker::state`] follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerState {
    /// Asking for a gateway, or in the handshake.
    Connecting,
    /// Connected and taking requests.
    Active,
    /// Shutting down: taking no new requests, finishing those in flight.
    Paused,
    /// The connection was lost; waiting before the next attempt.
    Reconnecting,
    /// Stopped.
    Closed,
}

/// Why a worker stopped other than by its shutdown future.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The app has no functions to serve.
    #[error("the app has no functions to serve over connect")]
    NoFunctions,
}

/// The backoff between connection attempts, as the official SDKs space them.
const BACKOFF: [Duration; 9] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(20),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(300),
];

/// A connection that stayed up this long was healthy: when it ends, the backoff starts afresh
/// and the gateways excluded before are asked for again. One that ends sooner (a gateway that
/// accepts and then drops or closes at once) counts as a failure, so it cannot make the
/// worker reconnect in a tight loop.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// How many failed gateway groups are excluded on the next start, the most recent kept.
const MAX_EXCLUDED: usize = 4;

/// Remembers `group` among the gateways to exclude: the most recent [`MAX_EXCLUDED`] distinct
/// ones, or only this one after a healthy connection.
fn exclude_next(exclude: &mut Vec<String>, group: String, healthy: bool) {
    if healthy {
        exclude.clear();
    }
    exclude.retain(|g| *g != group);
    exclude.push(group);
    if exclude.len() > MAX_EXCLUDED {
        exclude.remove(0);
    }
}

/// The wait before attempt `n` (0-based) after a failure: the table, with up to 20% jitter
/// taken off so that many workers do not retry in step.
fn backoff(n: usize) -> Duration {
    let base = BACKOFF[n.min(BACKOFF.len() - 1)];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base.mul_f64(1.0 - f64::from(nanos % 200) / 1000.0)
}

/// A connect worker for one app.
pub struct Worker {
    handler: ServeHandler,
    instance_id: String,
    max_concurrency: Option<u32>,
    gateway_url: Option<String>,
    state: watch::Sender<WorkerState>,
}

/// The host name, the official SDKs' default instance id.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "inngest-runtime-worker".to_string())
}

impl Worker {
    /// A worker serving `app`. `INNGEST_CONNECT_INSTANCE_ID`, `INNGEST_CONNECT_MAX_WORKER_CONCURRENCY`
    /// and `INNGEST_CONNECT_GATEWAY_URL` are read as the official SDKs read them.
    pub fn new(app: App) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            handler: ServeHandler::new(app).framework("connect"),
            instance_id: var("INNGEST_CONNECT_INSTANCE_ID").unwrap_or_else(host_name),
            max_concurrency: var("INNGEST_CONNECT_MAX_WORKER_CONCURRENCY")
                .and_then(|v| v.trim().parse().ok()),
            gateway_url: var("INNGEST_CONNECT_GATEWAY_URL"),
            state: watch::channel(WorkerState::Connecting).0,
        }
    }

    /// This worker's stable id (default: the host name).
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = id.into();
        self
    }

    /// Dials `url` instead of the gateway the start API names, as `INNGEST_CONNECT_GATEWAY_URL`
    /// does (for a proxy in front of the gateway).
    pub fn gateway_url(mut self, url: impl Into<String>) -> Self {
        self.gateway_url = Some(url.into());
        self
    }

    /// At most `n` requests at once (the gateway sends no more).
    pub fn max_concurrency(mut self, n: u32) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// The worker's state, to log or to serve as a health check.
    pub fn state(&self) -> watch::Receiver<WorkerState> {
        self.state.subscribe()
    }

    /// Runs until `shutdown` resolves: then it sends `WORKER_PAUSE`, finishes the requests in
    /// flight, and closes. A lost connection is retried forever, with backoff.
    ///
    /// # Errors
    ///
    /// Only when the app cannot be served at all ([`ConnectError`]); connection problems are
    /// logged and retried.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ConnectError> {
        if self.handler.app().function_ids().is_empty() {
            return Err(ConnectError::NoFunctions);
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let run = self.run(stop_rx);
        tokio::pin!(run);
        tokio::select! {
            () = &mut run => {}
            () = shutdown => {
                let _ = stop_tx.send(true);
                run.await;
            }
        }
        self.state.send_replace(WorkerState::Closed);
        Ok(())
    }

    async fn run(&self, mut stop: watch::Receiver<bool>) {
        // The requests in flight outlive each connection; they end with the worker's future.
        let flight = flight::Flight::new();
        let mut requests = tokio::task::JoinSet::new();
        self.connect_until_stopped(&mut stop, &flight, &mut requests)
            .await;
        // Stopping: what is still in flight finishes and delivers its reply (over the flush
        // API, with no connection left).
        if !requests.is_empty() {
            self.state.send_replace(WorkerState::Paused);
            while requests.join_next().await.is_some() {}
        }
    }

    async fn connect_until_stopped(
        &self,
        stop: &mut watch::Receiver<bool>,
        flight: &std::sync::Arc<flight::Flight>,
        requests: &mut tokio::task::JoinSet<()>,
    ) {
        let mut exclude: Vec<String> = Vec::new();
        let mut failures = 0usize;
        loop {
            // Stopping ends the loop once nothing is in flight; until then a connection is
            // still needed for the leases and replies of what runs.
            if *stop.borrow() && flight.len() == 0 {
                return;
            }
            self.state.send_replace(WorkerState::Connecting);
            let mut healthy = false;
            let end = match api::start(self.handler.app().client(), &exclude).await {
                Ok(mut gateway) => {
                    if let Some(url) = &self.gateway_url {
                        gateway.gateway_endpoint = url.clone();
                    }
                    let group = gateway.gateway_group.clone();
                    let began = tokio::time::Instant::now();
                    let end = session::run(self, gateway, stop, flight, requests).await;
                    healthy = began.elapsed() >= HEALTHY_AFTER;
                    // A gateway that failed, broke or is closing is not asked for again.
                    match &end {
                        session::End::Shutdown => exclude.clear(),
                        _ => exclude_next(&mut exclude, group, healthy),
                    }
                    end
                }
                Err(e) => session::End::Failed(crate::error::chain(&e)),
            };
            match end {
                session::End::Shutdown => return,
                session::End::Draining if healthy => {
                    tracing::info!(
                        in_flight = flight.len(),
                        "the gateway is closing; connecting to another one"
                    );
                    failures = 0;
                    continue;
                }
                session::End::Draining => {
                    tracing::warn!(
                        in_flight = flight.len(),
                        "the gateway closed soon after the connection was made; backing off"
                    );
                }
                session::End::Lost(why) => {
                    tracing::warn!(reason = %why, in_flight = flight.len(), "the connect connection was lost");
                    if healthy {
                        failures = 0;
                    }
                }
                session::End::Failed(why) => {
                    tracing::error!(reason = %why, "cannot connect to Inngest");
                }
            }
            self.state.send_replace(WorkerState::Reconnecting);
            let wait = backoff(failures);
            failures = failures.saturating_add(1);
            // Requests in flight meanwhile keep running (their replies go through the flush
            // API); finished ones are reaped.
            let sleep = tokio::time::sleep(wait);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    // Stopping: at once when idle, else reconnect now for what is in flight.
                    _ = stop.changed() => {
                        if flight.len() == 0 {
                            return;
                        }
                        break;
                    }
                    () = flight.idle(), if *stop.borrow() => return,
                    Some(_) = requests.join_next(), if !requests.is_empty() => {}
                }
            }
        }
    }
}
