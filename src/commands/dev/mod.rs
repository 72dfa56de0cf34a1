//! `cargo inngest dev`: a dev server, the app built and run against it, and a watcher that
//! swaps in a fresh build whenever the project changes.

mod build;
mod console;
mod process;
mod server;
mod watch;

use std::path::PathBuf;
use std::pin::pin;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::project::{self, Project, Selection};
use build::{BuildSpec, Built};
use console::{Console, Source};
use process::Job;
use server::{Choice, Server};

/// Flags of `dev`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    selection: Selection,
    /// Which dev server to run.
    #[arg(long, value_enum, default_value_t = Choice::Auto)]
    server: Choice,
    /// The dev server's port.
    #[arg(long, default_value_t = 8288)]
    port: u16,
    /// SQLite file for the embedded server's state (default: in memory).
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// The port the app listens on (given to it as PORT; 0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    app_port: u16,
    /// The app's serve path.
    #[arg(long, default_value = "/api/inngest")]
    serve_path: String,
    /// The binary to run, when the package has several.
    #[arg(long)]
    bin: Option<String>,
    /// Build in release mode.
    #[arg(long)]
    release: bool,
    /// An event (JSON) to send once the app first serves, e.g. '{"name":"shop/hello.requested","data":{"id":"Ada"}}'.
    #[arg(long, value_name = "JSON")]
    send: Vec<String>,
    /// How long the official dev server gets to start and answer, in seconds.
    #[arg(long, default_value_t = 10)]
    official_timeout: u64,
    /// Milliseconds of quiet after a change before rebuilding (50 to 200).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(50..=200))]
    debounce_ms: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let project = project::locate(&args.selection)?;
    let events: Vec<Value> = args
        .send
        .iter()
        .map(|s| serde_json::from_str(s).with_context(|| format!("--send {s:?} is not JSON")))
        .collect::<anyhow::Result<_>>()?;
    let bin = match (&args.bin, project.bins.len(), &project.default_run) {
        (Some(b), _, _) => Some(b.clone()),
        (None, 0, _) => bail!("{} has no binary to run", project.name),
        (None, 1, _) => None,
        (None, _, Some(d)) => Some(d.clone()),
        (None, _, None) => bail!(
            "{} has several binaries ({}): pick one with --bin",
            project.name,
            project.bins.join(", ")
        ),
    };
    let mut args = args;
    if args.app_port == 0 {
        args.app_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .context("finding a free port for the app")?;
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(Dev::new(args, project, bin, events).run())
}

struct Dev {
    args: Args,
    project: Project,
    spec: BuildSpec,
    console: Console,
    app_url: String,
    events: Vec<Value>,
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
    fn new(args: Args, project: Project, bin: Option<String>, events: Vec<Value>) -> Self {
        let spec = BuildSpec {
            manifest: project.manifest.clone(),
            package: project.name.clone(),
            bin,
            release: args.release,
        };
        let app_url = format!("http://127.0.0.1:{}{}", args.app_port, args.serve_path);
        Self {
            args,
            project,
            spec,
            console: Console::new(),
            app_url,
            events,
        }
    }

    async fn run(mut self) -> anyhow::Result<()> {
        let stop = shutdown_signal();
        let mut stop = pin!(stop);
        let settings = server::Settings {
            choice: self.args.server,
            port: self.args.port,
            state: self.args.state.clone(),
            app_url: self.app_url.clone(),
            official_timeout: Duration::from_secs(self.args.official_timeout),
        };
        let server = Server::start(&settings, &self.console).await?;
        let url = server.url();
        self.console.line(
            Source::Server,
            &format!(
                "{} dev server on {url} · runs: {url}/ · app: {}",
                server.kind(),
                self.app_url
            ),
        );
        if let Server::Embedded(s) = &server {
            report_runs(s, &self.console);
        }
        let mut watcher = watch::watch(
            &self.project.dir,
            &self.project.workspace_root,
            &self.project.target_dir,
            Duration::from_millis(self.args.debounce_ms),
        )?;
        self.console.line(
            Source::Dev,
            &format!("watching {} (Ctrl-C stops)", self.project.dir.display()),
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
                    let shown: Vec<String> = paths
                        .iter()
                        .map(|p| p.strip_prefix(&self.project.dir).unwrap_or(p).display().to_string())
                        .collect();
                    self.console.line(Source::Dev, &format!("changed: {}", shown.join(", ")));
                    changed_at = Some(at);
                }
                status = app_exit(&mut app) => {
                    let how = status.map_or("ended".to_string(), |s| format!("exited ({s})"));
                    self.console.line(Source::App, &format!("the app {how}; it restarts on the next change"));
                    app = None;
                }
            }
        }
        self.console.done();
        self.console.line(Source::Dev, "stopping");
        if let Some(job) = app.take() {
            job.stop(Duration::from_secs(5)).await;
        }
        server.stop().await;
        self.console.line(Source::Dev, "stopped");
        Ok(())
    }

    /// Builds; on success replaces the running app and re-syncs; on failure keeps it.
    async fn rebuild(&mut self, app: &mut Option<Job>, server: &Server, since: Instant) {
        self.console
            .busy(&format!("building {}", self.project.name));
        let built = build::build(&self.spec).await;
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
                    .line(Source::Build, &format!("cargo could not run: {e:#}"));
                return;
            }
        };
        self.console
            .line(Source::Build, &format!("built in {} ms", took.as_millis()));
        let swap_started = Instant::now();
        if let Some(old) = app.take() {
            old.stop(Duration::from_secs(5)).await;
        }
        let url = server.url();
        let mut cmd = tokio::process::Command::new(&executable);
        cmd.current_dir(&self.project.dir)
            .env("INNGEST_DEV", &url)
            .env("INNGEST_BASE_URL", &url)
            .env("PORT", self.args.app_port.to_string());
        let mut job = match Job::start(cmd, &self.console, Source::App) {
            Ok(j) => j,
            Err(e) => {
                self.console.line(
                    Source::App,
                    &format!("could not start {}: {e}", executable.display()),
                );
                return;
            }
        };
        self.console.line(
            Source::App,
            &format!("started {} (pid {})", executable.display(), job.pid()),
        );
        if let Err(why) = self.sync(&mut job).await {
            self.console
                .line(Source::App, &format!("not serving: {why}"));
            *app = Some(job);
            return;
        }
        *app = Some(job);
        self.print_functions(server).await;
        let total = since.elapsed();
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
        for event in std::mem::take(&mut self.events) {
            self.send(&url, &event).await;
        }
    }

    /// Waits for the app to accept connections, then PUTs its serve URL so it registers.
    async fn sync(&self, job: &mut Job) -> Result<(), String> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = job.try_exited() {
                return Err(format!("it exited ({status}) before serving"));
            }
            let put = http
                .put(&self.app_url)
                .header("x-inngest-server-kind", "dev")
                .json(&serde_json::json!({ "url": self.app_url }))
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            match put {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    return Err(format!(
                        "syncing {} answered {status}: {body}",
                        self.app_url
                    ));
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => return Err(format!("{} never answered: {e}", self.app_url)),
            }
        }
    }

    async fn print_functions(&self, server: &Server) {
        let rows: Vec<(String, String)> = match server {
            Server::Embedded(s) => match s.engine().apps().await {
                Ok(apps) => apps
                    .into_iter()
                    .flat_map(|a| a.functions)
                    .map(|f| (f.id, f.triggers.join(", ")))
                    .collect(),
                Err(_) => Vec::new(),
            },
            Server::Official { url, .. } => official_functions(url).await,
        };
        if rows.is_empty() {
            self.console
                .line(Source::Dev, "synced (the server lists no functions)");
            return;
        }
        let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(8);
        let t = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(7);
        self.console.line(
            Source::Dev,
            &format!("{:<w$}  {:<t$}  transport", "function", "trigger"),
        );
        for (id, trigger) in rows {
            self.console.line(
                Source::Dev,
                &format!("{id:<w$}  {trigger:<t$}  serve (http)"),
            );
        }
    }

    async fn send(&self, url: &str, event: &Value) {
        let sent = reqwest::Client::new()
            .post(format!("{url}/e/dev"))
            .json(event)
            .send()
            .await;
        let name = event.get("name").and_then(Value::as_str).unwrap_or("?");
        match sent {
            Ok(r) if r.status().is_success() => {
                let body: Value = r.json().await.unwrap_or(Value::Null);
                self.console
                    .line(Source::Dev, &format!("sent {name} (ids {})", body["ids"]));
            }
            Ok(r) => self.console.line(
                Source::Dev,
                &format!("sending {name}: the server answered {}", r.status()),
            ),
            Err(e) => self
                .console
                .line(Source::Dev, &format!("sending {name}: {e}")),
        }
    }
}

/// The official dev server's function list, best effort (`GET /dev`).
async fn official_functions(url: &str) -> Vec<(String, String)> {
    let Ok(resp) = reqwest::get(format!("{url}/dev")).await else {
        return Vec::new();
    };
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let list = body
        .get("functions")
        .and_then(Value::as_array)
        .or_else(|| body.pointer("/data/0/functions").and_then(Value::as_array))
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|f| {
            let id = f.get("slug").or_else(|| f.get("id"))?.as_str()?.to_string();
            let triggers = f
                .get("triggers")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .map(|t| match (t.get("event"), t.get("cron")) {
                            (Some(e), _) => format!("event:{}", e.as_str().unwrap_or("")),
                            (_, Some(c)) => format!("cron:{}", c.as_str().unwrap_or("")),
                            _ => t.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .or_else(|| f.as_str().map(str::to_string))
                .unwrap_or_default();
            Some((id, triggers))
        })
        .collect()
}

/// Prints every run the embedded server finishes.
fn report_runs(server: &inngest_devserver::DevServer, console: &Console) {
    let mut finished = server.engine().subscribe_finished();
    let console = console.clone();
    tokio::spawn(async move {
        loop {
            match finished.recv().await {
                Ok(run) => {
                    let output = run.output.map(|o| o.to_string()).unwrap_or_default();
                    let output = if output.len() > 200 {
                        format!("{}…", &output[..200])
                    } else {
                        output
                    };
                    console.line(
                        Source::Server,
                        &format!(
                            "run {} {} {:?}: {output}",
                            run.run_id, run.function_id, run.status
                        ),
                    );
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    });
}
