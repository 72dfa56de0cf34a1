//! An embedded Inngest-compatible dev server.
//!
//! It drives any Inngest SDK app in serve mode (the official JS and Python SDKs, or
//! `inngest-runtime`) with the protocol and semantics of the real server: the event API, sync,
//! the executor (memo, step planning, retries with backoff, sleeps, waits, invokes, sent
//! events, `onFailure`, cron, cancellation, concurrency), the v4 checkpoint API, a runs API, a
//! page at `/`, state that survives a restart, and a clock tests can move forward.
//!
//! The path of an event: the HTTP layer receives it → the engine's *intake* starts runs →
//! *dispatch* turns due queue items into calls → *call* builds the execution request and reads
//! the SDK's answer → *outcome* stores step results in the run's memo and schedules what
//! follows → *lifecycle* finishes the run.
//!
//! The public surface is this page: [`DevServer`] and its [`DevServerConfig`], the
//! [`EngineHandle`] that every call goes through, the views it answers with ([`RunView`],
//! [`AppView`]), and one error type per call.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use inngest_devserver::{DevServer, DevServerConfig};
//! let server = DevServer::start(DevServerConfig {
//!     app_urls: vec!["http://127.0.0.1:3000/api/inngest".into()],
//!     ..DevServerConfig::default()
//! })
//! .await?;
//! println!("dev server on {}", server.url());
//! server.advance(std::time::Duration::from_secs(3 * 86_400)).await?; // a sleep("3d") ends
//! server.stop().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod backoff;
mod call;
mod clock;
mod engine;
mod error_object;
mod expr;
mod gateway;
mod http;
mod in_process;
mod json_size;
mod registry;
mod run;
mod store;
mod sync;
pub mod testing;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub use clock::{Clock, ClockError};
pub use engine::{
    AdvanceError, AppView, Change, CheckpointError, EngineHandle, EventError, EventFilter,
    EventView, FailedAttempt, FunctionView, InvalidEvent, RunFilter, RunSummary, RunTrace, RunView,
    Span, SpanKind, SpanStatus, Stopped,
};
pub use expr::ExprError;
pub use gateway::ConnectedWorker;
pub use registry::{ConfigError, RegisterError};
pub use run::{RunStatus, StepRecord};
pub use store::StoreError;
pub use sync::{AppSyncer, SyncAttempt, SyncError};

/// An error and its sources, `outer: inner: …`, for answers and logs.
pub(crate) use inngest_runtime::error::chain as error_chain;
pub(crate) use inngest_runtime::error::panic_message;

/// How to run the dev server.
#[derive(Debug, Clone)]
pub struct DevServerConfig {
    /// Address to listen on (default 127.0.0.1).
    pub host: IpAddr,
    /// Port (default 8288; 0 picks a free one).
    pub port: u16,
    /// SQLite file for the state; `None` keeps it in memory.
    pub state: Option<PathBuf>,
    /// App serve URLs to sync (and keep synced), like `inngest dev -u`.
    pub app_urls: Vec<String>,
    /// How often app URLs are synced again.
    pub poll_interval: Duration,
    /// Send `ctx.fn_id`/`qi_id`, so v4 SDKs checkpoint as with the real server (default true).
    pub checkpointing: bool,
    /// How long a call to an app may take before it is a failed attempt (default 2 h, the
    /// Go driver's limit).
    pub call_timeout: Duration,
    /// How long a client may take to send a request's headers (default 10 s); a request then
    /// has 60 s to be answered, body included.
    pub header_timeout: Duration,
    /// Host names the HTTP API answers besides local and private ones (IP literals, names
    /// without a dot, `.localhost`, `.local`, `.internal`): other `Host`s are refused, against
    /// DNS rebinding (`--allow-host`).
    pub allowed_hosts: Vec<String>,
    /// A fixed delay between retries instead of the backoff table (`--retry-interval`); less
    /// than a second means the table.
    pub retry_interval: Option<Duration>,
    /// How long a connect worker's lease on a call lasts unless it extends it (default 20 s,
    /// the official gateway's); past it the call is a failed attempt and runs elsewhere.
    pub connect_lease: Duration,
    /// The heartbeat interval connect workers are given (default 10 s, the official
    /// gateway's); a worker that misses five in a row is dropped and its calls run elsewhere.
    pub connect_heartbeat: Duration,
}

impl Default for DevServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8288,
            state: None,
            app_urls: Vec::new(),
            poll_interval: Duration::from_secs(5),
            checkpointing: true,
            retry_interval: None,
            allowed_hosts: Vec::new(),
            call_timeout: Duration::from_secs(2 * 3600),
            header_timeout: Duration::from_secs(10),
            connect_lease: gateway::LEASE,
            connect_heartbeat: gateway::HEARTBEAT,
        }
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevServerError {
    /// The port is taken or the address is wrong.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The listener given to [`DevServer::start_on`] cannot serve.
    #[error("the given listener cannot be used")]
    Listener(#[source] std::io::Error),
    /// The state database cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A running dev server. Dropping it stops it; [`DevServer::stop`] waits for that.
///
/// A test that runs an app against it, end to end, with the clock moved past a sleep:
///
/// ```no_run
/// use std::time::Duration;
/// use inngest_devserver::{DevServer, DevServerConfig, RunStatus};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let server = DevServer::start(DevServerConfig { port: 0, ..DevServerConfig::default() }).await?;
/// // Start the app with INNGEST_DEV=<server.url()>, serving on :3000, then:
/// server.sync_app("http://127.0.0.1:3000/api/inngest").await?;
/// let ids = server
///     .send(vec![serde_json::json!({ "name": "user/user.created", "data": { "email": "a@b.co" } })])
///     .await?;
/// server.advance(Duration::from_secs(3 * 86_400)).await?; // past a 3-day sleep
/// let run = server
///     .finished_run(&ids[0], "shop-welcome-user", Duration::from_secs(5))
///     .await?
///     .ok_or("the run did not finish")?;
/// assert_eq!(run.status, RunStatus::Completed);
/// server.stop().await;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`DevServer::start`] fails with [`DevServerError`] when the address cannot be bound or the
/// state cannot be opened. Each later call fails with [`Stopped`] (or an error holding it)
/// once the server has stopped; [`DevServer::sync_app`] with [`SyncError`] when the app cannot
/// be reached or its answer is not a sync; [`DevServer::send`] with [`EventError`] for events
/// the event API would refuse.
pub struct DevServer {
    url: String,
    engine: EngineHandle,
    clock: Clock,
    syncer: AppSyncer,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The engine's panic message, once it has died.
    died: tokio::sync::watch::Receiver<Option<String>>,
    engine_abort: tokio::task::AbortHandle,
    /// Connect workers, told `GATEWAY_CLOSING` when the server stops.
    gateway: gateway::Gateway,
}

impl DevServer {
    /// Binds `config.host`:`config.port` (port 0 picks a free one), opens the state, and starts
    /// serving.
    pub async fn start(config: DevServerConfig) -> Result<Self, DevServerError> {
        let addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DevServerError::Bind { addr, source })?;
        Self::serve(config, listener).await
    }

    /// Starts serving on a listener the caller has bound, so the address is known, and held,
    /// before the server starts (`config.host` and `config.port` are not used). A tokio
    /// listener converts with `into_std()`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use inngest_devserver::{DevServer, DevServerConfig};
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?; // e.g. for an app's INNGEST_DEV, before the start
    /// let server = DevServer::start_on(DevServerConfig::default(), listener).await?;
    /// assert_eq!(server.url(), format!("http://{addr}"));
    /// # Ok(()) }
    /// ```
    pub async fn start_on(
        config: DevServerConfig,
        listener: std::net::TcpListener,
    ) -> Result<Self, DevServerError> {
        listener
            .set_nonblocking(true)
            .map_err(DevServerError::Listener)?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(DevServerError::Listener)?;
        Self::serve(config, listener).await
    }

    async fn serve(
        config: DevServerConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<Self, DevServerError> {
        let local = listener.local_addr().map_err(DevServerError::Listener)?;
        let clock = Clock::default();
        let store = store::Store::open(config.state.as_deref())?;
        let options = engine::EngineOptions {
            checkpointing: config.checkpointing,
            // Zero (or below a second) would retry in a tight loop: it means the backoff table,
            // as `--retry-interval 0` does in the official dev server.
            retry_interval: config
                .retry_interval
                .filter(|d| *d >= backoff::MIN_FIXED_INTERVAL),
            max_in_flight: 256,
            max_in_flight_per_app: 32,
            call_timeout: config.call_timeout,
        };
        let gateway = gateway::Gateway::new(config.connect_lease, config.connect_heartbeat);
        let (engine, engine_task) = engine::Engine::spawn(
            clock.clone(),
            store,
            options,
            gateway.clone(),
            in_process::InProcessApps::default(),
        )?;
        let url = format!("http://{local}");
        let sync_log = sync::SyncLog::new(clock.clone());
        let syncer = AppSyncer::new().with_log(sync_log.clone());
        let router = http::router(http::Shared {
            engine: engine.clone(),
            clock: clock.clone(),
            syncer: syncer.clone(),
            sync_log,
            allowed_hosts: config.allowed_hosts.clone(),
            gateway: gateway.clone(),
            url: url.clone(),
        });
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        // The engine owns every run: if it dies (a panic), nothing can progress, so the HTTP
        // listener closes instead of answering 503 forever, and `failed()` says why.
        let (died_tx, died) = tokio::sync::watch::channel::<Option<String>>(None);
        let mut died_http = died.clone();
        let header_timeout = config.header_timeout;
        let server_task = tokio::spawn(http::listener::serve(
            listener,
            router,
            header_timeout,
            async move {
                tokio::select! {
                    _ = stopped => {}
                    _ = died_http.wait_for(Option::is_some) => {}
                }
            },
        ));
        let engine_abort = engine_task.abort_handle();
        let engine_watch = tokio::spawn(async move {
            if let Err(e) = engine_task.await {
                if e.is_panic() {
                    let message = panic_message(e.into_panic());
                    tracing::error!(panic = %message, "the dev server's engine panicked; the server stops");
                    let _ = died_tx.send(Some(message));
                }
            }
        });
        let mut tasks = vec![server_task, engine_watch];
        if !config.app_urls.is_empty() {
            let s = syncer.clone();
            tasks.push(tokio::spawn(
                s.keep_synced(config.app_urls.clone(), config.poll_interval),
            ));
        }
        tracing::info!(%url, "inngest-devserver listening");
        Ok(Self {
            url,
            engine,
            clock,
            syncer,
            tasks,
            shutdown: Some(shutdown),
            died,
            engine_abort,
            gateway,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:8288` (what apps get as `INNGEST_DEV`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The engine, for everything the HTTP API can do.
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    /// Moves the clock forward; sleeps, timeouts, retries and cron ticks that became due run.
    pub async fn advance(&self, by: Duration) -> Result<(), AdvanceError> {
        self.engine.advance(by).await
    }

    /// The connect workers of each app (by app id), in the order they connected; a paused
    /// worker (it sent `WORKER_PAUSE` and is finishing its work) is not `active`.
    pub fn connect_workers(&self) -> std::collections::HashMap<String, Vec<ConnectedWorker>> {
        self.gateway.workers()
    }

    /// Syncs an app by its serve URL now.
    pub async fn sync_app(&self, url: &str) -> Result<Value, SyncError> {
        self.syncer.sync(url).await
    }

    /// Sends events as the event API does; returns their ids.
    pub async fn send(&self, events: Vec<Value>) -> Result<Vec<String>, EventError> {
        self.engine.send_events(events).await
    }

    /// A run by id.
    pub async fn run(&self, id: &str) -> Result<Option<RunView>, Stopped> {
        self.engine.run(id.to_string()).await
    }

    /// Waits until `event_id` has started a run of `function_id` that has finished, polling
    /// every 10 ms; `None` if `timeout` passes first (the run may not exist yet, or still
    /// run). Meant for tests.
    pub async fn finished_run(
        &self,
        event_id: &str,
        function_id: &str,
        timeout: Duration,
    ) -> Result<Option<RunView>, Stopped> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let runs = self.engine.event_runs(event_id.to_string()).await?;
            if let Some(run) = runs
                .into_iter()
                .find(|r| r.function_id == function_id && r.status != RunStatus::Running)
            {
                return Ok(Some(run));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Resolves if the engine dies (a bug: it panicked), with the panic's message. The HTTP
    /// listener has closed by then; a process serving the dev server should exit non-zero, as
    /// `cargo inngest dev-server` does. Pending forever while the engine runs.
    pub async fn failed(&self) -> String {
        let mut died = self.died.clone();
        match died.wait_for(Option::is_some).await {
            Ok(message) => message.clone().unwrap_or_default(),
            // The watcher task is gone without a panic: the server was stopped.
            Err(_) => std::future::pending().await,
        }
    }

    /// Stops serving and waits for the tasks to end.
    pub async fn stop(mut self) {
        self.shutdown_now();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }

    fn shutdown_now(&mut self) {
        // Connect workers move to another gateway (here: reconnect until one is back) instead
        // of holding a socket to a server that no longer runs anything; no connect session
        // outlives the server, a dropped one too.
        self.gateway.close_all();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The engine and sync tasks hold no resources that need a graceful end: with a state
        // file every change that was answered is in it (the engine awaits only between turns,
        // or once in a turn before its commit and its answers: stopped there, the turn is as if
        // it never ran, and its calls are made again on the next start); an in-memory store
        // ends with the process anyway.
        self.engine_abort.abort();
        for t in self.tasks.iter().skip(1) {
            t.abort();
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.shutdown_now();
        if let Some(server) = self.tasks.first() {
            server.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every level of `e` leaves its source's text to the source.
    fn assert_no_level_repeats_its_source(e: &dyn std::error::Error) {
        let mut level: Option<&dyn std::error::Error> = Some(e);
        while let Some(l) = level {
            if let Some(source) = l.source() {
                let (outer, inner) = (l.to_string(), source.to_string());
                assert!(
                    !outer.contains(&inner),
                    "{outer:?} repeats its source {inner:?}"
                );
            }
            level = l.source();
        }
    }

    #[tokio::test]
    async fn an_engine_that_panics_closes_the_server_and_says_why() {
        let server = DevServer::start(DevServerConfig {
            port: 0,
            ..DevServerConfig::default()
        })
        .await
        .expect("starts");
        let dev = format!("{}/dev", server.url());
        let http = reqwest::Client::new();
        let before = http.get(&dev).send().await.expect("answers");
        assert!(before.status().is_success());
        server.engine().crash().await;
        let message = tokio::time::timeout(Duration::from_secs(5), server.failed())
            .await
            .expect("the failure is reported");
        assert_eq!(message, "a bug in the engine");
        // No zombie answering 503: the listener is closed.
        let mut closed = false;
        for _ in 0..100 {
            match http.get(&dev).timeout(Duration::from_secs(1)).send().await {
                Err(e) if e.is_connect() => {
                    closed = true;
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        assert!(closed, "the HTTP listener still accepts connections");
        assert!(server.engine().apps().await.is_err(), "the engine is gone");
        server.stop().await;
    }

    #[tokio::test]
    async fn a_stopped_server_is_not_reported_as_failed() {
        let server = DevServer::start(DevServerConfig {
            port: 0,
            ..DevServerConfig::default()
        })
        .await
        .expect("starts");
        let failed = tokio::time::timeout(Duration::from_millis(200), server.failed()).await;
        assert!(failed.is_err(), "a running engine is not a failure");
        server.stop().await;
    }

    #[test]
    fn errors_name_their_level_and_leave_the_cause_to_the_source() {
        let sync: inngest_runtime::protocol::sync::RegisterRequest =
            serde_json::from_value(serde_json::json!({
                "url": "http://x", "appName": "a", "functions": [{
                    "id": "a-f", "name": "f", "triggers": [{ "cron": "61 * * * *" }],
                    "steps": { "step": { "id": "step", "name": "step",
                        "runtime": { "type": "http", "url": "http://x?fnId=a-f&stepId=step" } } },
                }],
            }))
            .expect("a sync body");
        let refused = registry::Registry::default()
            .register(sync, 0)
            .expect_err("the cron is refused");
        assert_no_level_repeats_its_source(&refused);
        let chain = error_chain(&refused);
        assert!(
            chain.starts_with("function \"a-f\" is not valid: a cron trigger is not valid: "),
            "{chain}"
        );

        let event = EventError::Invalid {
            index: 1,
            problem: InvalidEvent::NoName,
        };
        assert_no_level_repeats_its_source(&event);
        assert_eq!(
            error_chain(&event),
            "event 1 of the batch is not valid: the event has no name"
        );

        // A file where the state file's folder should be: neither the folder nor the database
        // can be made (a missing folder is made, so it is no failure).
        let dir = tempfile::tempdir().expect("a folder");
        let blocker = dir.path().join("a-file");
        std::fs::write(
            &blocker,
            "this is not a SQLite database, and it is long enough to tell",
        )
        .expect("write");
        let store = store::Store::open(Some(&blocker.join("state.db")))
            .err()
            .expect("no folder can be made there");
        assert_no_level_repeats_its_source(&store);
        // A database file that cannot be opened as one.
        let store = store::Store::open(Some(&blocker))
            .err()
            .expect("not a database");
        assert_no_level_repeats_its_source(&store);
        let bind = DevServerError::Bind {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert_no_level_repeats_its_source(&bind);
        assert!(error_chain(&bind).starts_with("cannot listen on 127.0.0.1:1: "));
    }
}
