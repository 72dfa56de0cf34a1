//! The loop, as watchexec's supervisor runs a job: start the dev server, build and start the
//! app, then on every change build again and, when the build succeeds, stop the old app and
//! start the new one. A failed build keeps the old app; a crashed app waits for the next
//! change. Ctrl-C or SIGTERM stops everything it started.

use std::pin::pin;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::app_sync::Transport;
use super::build::{self, BuildSpec, Built};
use super::console::{Console, Source};
use super::options::DevOptions;
use super::process::Job;
use super::server::{self, Server, ServerError};
use super::watch::{self, WatchError};
use super::{app_sync, events, functions, runs};

/// How long a stopped app gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
/// How long a replaced connect worker gets to finish its in-flight steps (its calls are
/// retried elsewhere if it is killed): the new build already works meanwhile.
const DRAIN_GRACE: Duration = Duration::from_secs(60);

/// Why `dev` could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevError {
    /// No dev server started.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The project cannot be watched.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// The embedded dev server's engine panicked (a bug); the server has closed.
    #[error("the dev server's engine stopped on a panic: {0}")]
    ServerDied(String),
    /// The official dev server's process ended while `dev` ran.
    #[error("the official dev server {0}")]
    OfficialExited(String),
}

/// Runs `dev` until Ctrl-C or SIGTERM.
pub async fn run(options: DevOptions) -> Result<(), DevError> {
    Dev::new(options).run().await
}

struct Dev {
    options: DevOptions,
    spec: BuildSpec,
    console: Console,
    app_url: String,
    /// The `--send` events, until they are sent.
    events: Vec<Value>,
    /// Whether a build has served yet (the first one follows no change).
    served_once: bool,
    /// When the last build started and ended: a file written before it started is in it, and
    /// a `Cargo.lock` written while it ran is cargo's own write.
    last_build: Option<(SystemTime, SystemTime)>,
    /// How the running build talks to the server, once it was ready.
    transport: Option<Transport>,
    /// Replaced connect workers finishing their work.
    draining: Vec<tokio::task::JoinHandle<()>>,
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}

/// Waits for the app's own exit, or forever when there is no app.
async fn app_exit(app: &mut Option<Job>) -> Option<std::process::ExitStatus> {
    match app {
        Some(job) => job.exited().await,
        None => std::future::pending().await,
    }
}

impl Dev {
    fn new(mut options: DevOptions) -> Self {
        let spec = BuildSpec {
            manifest: options.project.manifest.clone(),
            package: options.project.name.clone(),
            bin: options.bin.clone(),
            release: options.release,
        };
        let app_url = options.app_url();
        let events = std::mem::take(&mut options.events);
        Self {
            options,
            spec,
            console: Console::new(),
            app_url,
            events,
            served_once: false,
            last_build: None,
            transport: None,
            draining: Vec::new(),
        }
    }

    /// Whether the last build has `path` as it is now: it was modified before that build
    /// started (and after, cargo would see a newer file), or it is the `Cargo.lock` cargo
    /// wrote while building. A file that is gone, or whose time cannot be read, counts as new.
    fn built_already(&self, path: &std::path::Path) -> bool {
        let Some((started, ended)) = self.last_build else {
            return false;
        };
        let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) else {
            return false;
        };
        let lockfile = path.file_name().is_some_and(|n| n == "Cargo.lock");
        modified < started || (lockfile && modified <= ended)
    }

    async fn run(mut self) -> Result<(), DevError> {
        let stop = shutdown_signal();
        let mut stop = pin!(stop);
        let settings = server::Settings {
            choice: self.options.server,
            port: self.options.port,
            state: self.options.state.clone(),
            app_url: self.app_url.clone(),
            official_timeout: self.options.official_timeout,
        };
        let mut server = Server::start(&settings, &self.console).await?;
        let url = server.url();
        self.console.line(
            Source::Server,
            &format!(
                "{} dev server on {url} · runs: {url}/ · app: {}",
                server.kind(),
                self.app_url
            ),
        );
        match &server {
            Server::Embedded(s) => runs::report(s, &self.console),
            Server::Official { .. } => self.console.line(
                Source::Dev,
                "the official dev server has no clock API (/dev/time/advance): sleeps and timeouts take their real time, and failed attempts show on its page (`--server embedded` prints them and can skip sleeps)",
            ),
        }
        let project = &self.options.project;
        let watcher = watch::watch(
            &project.dir,
            &project.workspace_root,
            &project.target_dir,
            self.options.state.as_deref(),
            self.options.debounce,
        );
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                server.stop().await;
                return Err(e.into());
            }
        };
        self.console.line(
            Source::Dev,
            &format!("watching {} (Ctrl-C stops)", project.dir.display()),
        );

        let mut app: Option<Job> = None;
        let mut changed_at = Some(Instant::now());
        loop {
            if let Some(since) = changed_at.take() {
                tokio::select! {
                    _ = &mut stop => break,
                    _ = self.rebuild(&mut app, &server, since) => {},
                }
                continue;
            }
            tokio::select! {
                _ = &mut stop => break,
                batch = watcher.changes.recv() => {
                    let Some(mut paths) = batch else { break };
                    let at = Instant::now();
                    while let Ok(more) = watcher.changes.try_recv() {
                        paths.extend(more);
                    }
                    paths.sort();
                    paths.dedup();
                    // One change of several files (`make workflow` writes four or five) can
                    // straddle two debounce windows; the files of the second, written before
                    // the build of the first started, are in that build already.
                    paths.retain(|p| !self.built_already(p));
                    if paths.is_empty() {
                        continue;
                    }
                    let dir = &self.options.project.dir;
                    let shown: Vec<String> = paths
                        .iter()
                        .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
                        .collect();
                    self.console.line(Source::Dev, &format!("changed: {}", shown.join(", ")));
                    changed_at = Some(at);
                }
                Some(error) = watcher.errors.recv() => {
                    self.console.line(
                        Source::Dev,
                        &format!("the file watcher reported an error (changes may be missed; restart dev if so): {error}"),
                    );
                }
                status = app_exit(&mut app) => {
                    let how = super::process::how_it_ended(status);
                    self.console.line(Source::App, &format!("the app {how}; it restarts on the next change"));
                    app = None;
                }
                failure = server.failed() => {
                    self.console.done();
                    if let Some(job) = app.take() {
                        job.stop(GRACE).await;
                    }
                    server.stop().await;
                    return Err(match failure {
                        server::Failure::Panicked(message) => DevError::ServerDied(message),
                        server::Failure::Exited(how) => DevError::OfficialExited(how),
                    });
                }
            }
        }
        self.console.done();
        self.console.line(Source::Dev, "stopping");
        if let Some(job) = app.take() {
            job.stop(GRACE).await;
        }
        // A replaced worker still draining gets what a stopped app gets; then it is killed
        // (dropping its job kills its group).
        for mut draining in self.draining.drain(..) {
            if tokio::time::timeout(GRACE, &mut draining).await.is_err() {
                draining.abort();
                let _ = draining.await;
            }
        }
        server.stop().await;
        self.console.line(Source::Dev, "stopped");
        Ok(())
    }

    /// Builds; on success replaces the running app and re-syncs; on failure keeps it.
    async fn rebuild(&mut self, app: &mut Option<Job>, server: &Server, since: Instant) {
        self.console
            .busy(&format!("building {}", self.options.project.name));
        let started = SystemTime::now();
        let built = build::build(&self.spec).await;
        self.last_build = Some((started, SystemTime::now()));
        self.console.done();
        let (executable, took) = match built {
            Ok(Built::Ok { executable, took }) => (executable, took),
            Ok(Built::Failed { errors, took }) => {
                self.console.lines(Source::Build, &errors);
                let keep = if app.is_some() {
                    "the previous build keeps serving"
                } else {
                    "no app is running"
                };
                self.console.line(
                    Source::Build,
                    &format!("build failed after {} ms; {keep}", took.as_millis()),
                );
                return;
            }
            Err(e) => {
                self.console
                    .line(Source::Build, &inngest_runtime::error::chain(&e));
                return;
            }
        };
        self.console
            .line(Source::Build, &format!("built in {} ms", took.as_millis()));
        let swap_started = Instant::now();
        // A server calls an HTTP app on its port, so the old build goes first. A connect
        // worker dials out: the new build connects while the old one still works, and the old
        // one then drains (no new work reaches it) and stops.
        let overlap = self.transport == Some(Transport::Connect);
        if !overlap {
            if let Some(old) = app.take() {
                old.stop(GRACE).await;
            }
        }
        let before = app_sync::Before::of(server, self.transport);
        let url = server.url();
        let mut cmd = tokio::process::Command::new(&executable);
        cmd.current_dir(&self.options.project.dir)
            .env("INNGEST_DEV", &url)
            .env("INNGEST_BASE_URL", &url)
            .env("PORT", self.options.app_port.to_string())
            // The address `dev` reaches the app at, whatever the project's .env says.
            .env("HOST", "127.0.0.1");
        let mut job = match Job::start(cmd, &self.console, Source::App) {
            Ok(j) => j,
            Err(e) => {
                self.console.line(
                    Source::App,
                    &format!(
                        "could not start {}: {}",
                        executable.display(),
                        inngest_runtime::error::chain(&e)
                    ),
                );
                return;
            }
        };
        self.console.line(
            Source::App,
            &format!("started {} (pid {})", executable.display(), job.pid()),
        );
        let ready = app_sync::until_ready(server, &self.app_url, &mut job, &before).await;
        let transport = match ready {
            Ok(t) => t,
            Err(why) => {
                let kept = if overlap && app.is_some() {
                    "; the previous build keeps working"
                } else {
                    ""
                };
                self.console.line(
                    Source::App,
                    &format!("not serving: {}{kept}", inngest_runtime::error::chain(&why)),
                );
                if overlap && app.is_some() {
                    job.stop(GRACE).await;
                } else {
                    *app = Some(job);
                }
                return;
            }
        };
        if transport == Transport::Connect {
            self.console.line(
                Source::App,
                &format!("connected to the dev server's gateway (pid {})", job.pid()),
            );
        }
        if let Some(old) = app.replace(job) {
            let pid = old.pid();
            self.console.line(
                Source::App,
                &format!("the previous build (pid {pid}) finishes its in-flight work, then stops"),
            );
            let console = self.console.clone();
            self.draining.retain(|d| !d.is_finished());
            self.draining.push(tokio::spawn(async move {
                let status = old.stop(DRAIN_GRACE).await;
                let how = super::process::how_it_ended(status);
                console.line(
                    Source::App,
                    &format!("the previous build (pid {pid}) {how}"),
                );
            }));
        }
        self.transport = Some(transport);
        functions::print(server, &self.console).await;
        let total = since.elapsed();
        if self.served_once {
            self.console.line(
                Source::Dev,
                &format!(
                    "serving the new build: {} ms after the change (build {} ms, restart and sync {} ms, overhead {} ms)",
                    total.as_millis(),
                    took.as_millis(),
                    swap_started.elapsed().as_millis(),
                    total.saturating_sub(took).as_millis(),
                ),
            );
        } else {
            self.served_once = true;
            self.console.line(
                Source::Dev,
                &format!(
                    "serving {}: ready {} ms after start (build {} ms, start and sync {} ms)",
                    self.options.project.name,
                    total.as_millis(),
                    took.as_millis(),
                    swap_started.elapsed().as_millis(),
                ),
            );
            if let Server::Embedded(_) = server {
                self.console.line(
                    Source::Dev,
                    &format!(
                        "a run sleeps or waits? move the clock: curl -X POST {url}/dev/time/advance -H 'content-type: application/json' -d '{{\"duration\":\"3d\"}}'"
                    ),
                );
            }
        }
        events::send_all(&self.console, &url, std::mem::take(&mut self.events)).await;
    }
}
