//! Test support: the official JS app as a child process, a recording proxy in front of an
//! app, the conformance corpus, and request normalization for comparing with it.

#![allow(dead_code)]

pub mod drive;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use inngest_devserver::{DevServer, RunView};
use serde_json::{Value, json};

/// The corpus recorded from the official JS SDK, which the workspace carries.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/recordings")
}

pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The scenarios of `scenarios.json`, by name.
pub fn scenarios() -> BTreeMap<String, Value> {
    let list = read_json(&corpus().join("../scenarios.json"));
    list.as_array()
        .expect("a list of scenarios")
        .iter()
        .map(|s| (s["name"].as_str().expect("a name").to_string(), s.clone()))
        .collect()
}

/// The recorded requests of a scenario folder, in order.
pub fn recorded_requests(scenario: &str) -> Vec<Value> {
    let dir = corpus().join(scenario);
    let mut out = Vec::new();
    for n in 1.. {
        let path = dir.join(format!("{n:02}-request.json"));
        if !path.exists() {
            break;
        }
        out.push(read_json(&path));
    }
    out
}

/// An app served on a port it bound itself.
pub trait Served {
    /// The port it listens on.
    fn port(&self) -> u16;
}

/// Spawns an app that binds a free port itself and prints `listening on 127.0.0.1:<port>` on
/// its stdout; returns it and the port. The rest of its stdout is read and dropped, so its
/// writes never meet a closed pipe.
pub fn spawn_listening(command: Command, what: &str) -> (Child, u16) {
    spawn_saying_port(command, what, |line| {
        line.strip_prefix("listening on 127.0.0.1:")
            .and_then(|p| p.trim().parse::<u16>().ok())
    })
}

/// Spawns a program that binds a free port itself and says which on a line of its stdout that
/// `port_in` reads; returns it and the port. The rest of its stdout is read and dropped.
pub fn spawn_saying_port(
    mut command: Command,
    what: &str,
    port_in: fn(&str) -> Option<u16>,
) -> (Child, u16) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(port) = port_in(&line) {
                let _ = tx.send(port);
                break;
            }
        }
        for _ in lines {}
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not say which port it listens on within 60 s");
        }
    }
}

/// The official JS app (`app.mjs` of the corpus), installed by `.ci/js-sdk.sh`, on a port it
/// picks (`APP_PORT=0`).
pub struct JsApp {
    child: Child,
    pub port: u16,
}

impl JsApp {
    pub fn start(dev_server: &str, serve_origin: &str) -> Self {
        Self::start_with(dev_server, serve_origin, &[])
    }

    /// With extra environment variables (e.g. `INNGEST_STREAMING=force`).
    pub fn start_with(dev_server: &str, serve_origin: &str, env: &[(&str, &str)]) -> Self {
        let dir = std::env::var("INNGEST_JS_APP_DIR").expect(
            "INNGEST_JS_APP_DIR names the installed JS app: `export INNGEST_JS_APP_DIR=$(bash .ci/js-sdk.sh)` (the README's test command does)",
        );
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("node_modules/inngest").exists(),
            "the official JS SDK is not installed in {}: run `bash .ci/js-sdk.sh` (the README's test command does)",
            dir.display()
        );
        let mut command = Command::new("node");
        command
            .arg("app.mjs")
            .current_dir(&dir)
            .env("INNGEST_DEV", dev_server)
            .env("APP_PORT", "0")
            .env("INNGEST_SERVE_ORIGIN", serve_origin)
            .envs(env.iter().copied());
        let (child, port) = spawn_listening(command, "the JS app");
        Self { child, port }
    }
}

impl Served for JsApp {
    fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for JsApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Rust conformance app (`examples/conformance`) served in process, registering
/// `serve_origin` as its URL and talking to the dev server at `dev_server`.
pub struct RustApp {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

async fn bind_free() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port")
}

impl RustApp {
    /// On a port it binds itself.
    pub async fn start(dev_server: &str, serve_origin: &str) -> Self {
        Self::serve(
            conformance_app::APP_ID,
            dev_server,
            serve_origin,
            bind_free().await,
            conformance_app::app,
        )
        .await
    }

    /// Only `welcome-user` (no cron ticking on clock moves), on a port it binds itself.
    pub async fn welcome_only(dev_server: &str, serve_origin: &str) -> Self {
        Self::serve(
            conformance_app::APP_ID,
            dev_server,
            serve_origin,
            bind_free().await,
            |client| {
                inngest_runtime::App::builder(client)
                    .register(conformance_app::WelcomeUser)
                    .build()
            },
        )
        .await
    }

    /// Serves the app `build` makes for a client with id `app_id` on `listener`.
    pub async fn serve(
        app_id: &str,
        dev_server: &str,
        serve_origin: &str,
        listener: tokio::net::TcpListener,
        build: impl FnOnce(
            inngest_runtime::Inngest,
        )
            -> Result<inngest_runtime::App, inngest_runtime::error::RegistrationError>,
    ) -> Self {
        let mut config = inngest_runtime::config::Config::dev(dev_server);
        config.serve_origin = Some(serve_origin.to_string());
        let client = inngest_runtime::Inngest::with_config(app_id, config);
        let app = build(client).expect("the app registers");
        let router =
            axum::Router::new().route("/api/inngest", inngest_runtime::serve::axum::endpoint(app));
        let port = listener.local_addr().expect("bound").port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { port, task }
    }
}

impl Served for RustApp {
    fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for RustApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A dev server on a free port, and the app `build` makes served in process on another, synced.
pub async fn server_with_app(
    app_id: &str,
    build: impl FnOnce(
        inngest_runtime::Inngest,
    ) -> Result<inngest_runtime::App, inngest_runtime::error::RegistrationError>,
) -> (DevServer, RustApp) {
    server_with_app_config(app_id, inngest_devserver::DevServerConfig::default(), build).await
}

/// [`server_with_app`] with a server configuration (its port is replaced by a free one).
pub async fn server_with_app_config(
    app_id: &str,
    config: inngest_devserver::DevServerConfig,
    build: impl FnOnce(
        inngest_runtime::Inngest,
    ) -> Result<inngest_runtime::App, inngest_runtime::error::RegistrationError>,
) -> (DevServer, RustApp) {
    let server = DevServer::start(inngest_devserver::DevServerConfig { port: 0, ..config })
        .await
        .expect("the dev server starts");
    let listener = bind_free().await;
    let origin = format!("http://{}", listener.local_addr().expect("bound"));
    let app = RustApp::serve(app_id, server.url(), &origin, listener, build).await;
    sync_when_up(&server, &format!("{origin}/api/inngest")).await;
    (server, app)
}

/// One execution request as it passed the proxy.
#[derive(Debug, Clone)]
pub struct Seen {
    pub step_id: String,
    pub body: Value,
    pub status: u16,
}

/// A proxy in front of an app that records every execution request, by run id. It starts
/// first, so that the app can register the proxy's origin; the app's port is set once the app
/// listens (and again when it restarts).
pub struct Proxy {
    pub port: u16,
    seen: Arc<Mutex<BTreeMap<String, Vec<Seen>>>>,
    fail_next: Arc<std::sync::atomic::AtomicUsize>,
    upstream: Arc<AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ProxyState {
    fail_next: Arc<std::sync::atomic::AtomicUsize>,
    /// The app's port; 0 until it is known.
    upstream: Arc<AtomicU16>,
    http: reqwest::Client,
    seen: Arc<Mutex<BTreeMap<String, Vec<Seen>>>>,
}

async fn forward(State(s): State<ProxyState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if parts.method == Method::POST
        && s.fail_next
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok()
    {
        // An infrastructure failure in front of the app: a 500 that no SDK sent.
        return (StatusCode::INTERNAL_SERVER_ERROR, "proxy: upstream failed").into_response();
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let upstream = s.upstream.load(Ordering::SeqCst);
    if upstream == 0 {
        return (StatusCode::BAD_GATEWAY, "proxy: no app yet").into_response();
    }
    let mut out = s.http.request(
        parts.method.clone(),
        format!("http://127.0.0.1:{upstream}{path}"),
    );
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            out = out.header(name, value);
        }
    }
    let resp = match out.body(body.clone()).send().await {
        Ok(r) => r,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let status = resp.status();
    let mut headers = HeaderMap::new();
    for (name, value) in resp.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            headers.insert(name.clone(), value.clone());
        }
    }
    let answer: Bytes = resp.bytes().await.unwrap_or_default();
    if parts.method == Method::POST {
        if let Ok(json) = serde_json::from_slice::<Value>(&body) {
            if let Some(run_id) = json["ctx"]["run_id"].as_str() {
                let step_id = parts
                    .uri
                    .query()
                    .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("stepId=")))
                    .unwrap_or_default()
                    .to_string();
                s.seen
                    .lock()
                    .expect("not poisoned")
                    .entry(run_id.to_string())
                    .or_default()
                    .push(Seen {
                        step_id,
                        body: json,
                        status: status.as_u16(),
                    });
            }
        }
    }
    (status, headers, answer).into_response()
}

impl Proxy {
    pub async fn start() -> Self {
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let fail_next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let upstream = Arc::new(AtomicU16::new(0));
        let state = ProxyState {
            fail_next: fail_next.clone(),
            upstream: upstream.clone(),
            http: reqwest::Client::new(),
            seen: seen.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let router = axum::Router::new().fallback(forward).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            port,
            seen,
            fail_next,
            upstream,
            task,
        }
    }

    /// Forwards to the app on `port` from now on.
    pub fn set_upstream(&self, port: u16) {
        self.upstream.store(port, Ordering::SeqCst);
    }

    /// Answers the next `n` execution requests with a bare 500 instead of forwarding them.
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self, run_id: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("not poisoned")
            .get(run_id)
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Syncs the app at `url`, retrying while it starts.
pub async fn sync_when_up(server: &DevServer, url: &str) {
    for _ in 0..200 {
        if server.sync_app(url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the app at {url} never synced");
}

/// Waits for a run of `function_id` (other than `skip`) to exist.
pub async fn find_run(server: &DevServer, function_id: &str, skip: &[String]) -> Option<RunView> {
    for _ in 0..200 {
        let (runs, _) = server.engine().recent().await.expect("running");
        if let Some(r) = runs
            .into_iter()
            .find(|r| r.function_id == function_id && !skip.contains(&r.run_id))
        {
            return Some(r);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// [`DevServer::finished_run`] for a run found already: the run once it has finished, or
/// `None` if it is still running after `ms`.
pub async fn finished(server: &DevServer, run: &RunView, ms: u64) -> Option<RunView> {
    let event_id = run
        .event_id
        .as_deref()
        .unwrap_or_else(|| panic!("run {} has no triggering event", run.run_id));
    server
        .finished_run(event_id, &run.function_id, Duration::from_millis(ms))
        .await
        .expect("the server runs")
}

/// Waits up to `ms` for a run to finish; fails the test, showing the run as it stands, if it
/// does not.
pub async fn wait_finished(server: &DevServer, run: &RunView, ms: u64) -> RunView {
    if let Some(done) = finished(server, run, ms).await {
        return done;
    }
    let now = server.run(&run.run_id).await.expect("the server runs");
    panic!(
        "run {} of {} did not finish within {ms} ms; it stands as {now:?}",
        run.run_id, run.function_id
    );
}

/// The parts of an execution request the corpus comparison looks at: `stepId`, attempt,
/// planning flag, stack, memo and the event, with ids, timestamps and stack traces masked.
pub fn request_view(step_id: &str, body: &Value) -> Value {
    json!({
        "stepId": step_id,
        "attempt": body["ctx"]["attempt"],
        "disable_immediate_execution": body["ctx"]["disable_immediate_execution"],
        "stack": body["ctx"]["stack"]["stack"],
        "steps": mask(&body["steps"]),
        "event": event_view(&body["event"]),
    })
}

/// An event's name and data without the server-made parts (`_inngest`, cron times).
fn event_view(event: &Value) -> Value {
    let mut data = event["data"].clone();
    if let Value::Object(o) = &mut data {
        for key in ["_inngest", "scheduledAt", "fireAt"] {
            o.remove(key);
        }
    }
    json!({ "name": event["name"], "data": data })
}

fn mask(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let is_event = o.contains_key("name") && o.contains_key("ts");
            Value::Object(
                o.iter()
                    .filter(|(k, _)| k.as_str() != "stack")
                    .map(|(k, v)| {
                        let masked = match k.as_str() {
                            "id" | "ts" if is_event => json!("<masked>"),
                            "ids" => json!(v.as_array().map(|a| vec!["<id>"; a.len()])),
                            _ => mask(v),
                        };
                        (k.clone(), masked)
                    })
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
        other => other.clone(),
    }
}

/// Compares what the proxy saw for a run with a recorded scenario; returns the differences.
///
/// Planned (parallel) steps are called concurrently by our server, as by the real one, while
/// the recording executor called them one after the other. So for the steps of a parallel
/// group (the targeted `stepId`s): a targeted request is compared without its siblings'
/// results, and in any stack the group's members are compared as a set.
pub fn diff_with_recording(seen: &[Seen], recorded: &[Value]) -> Vec<String> {
    let step_of = |r: &Value| {
        r["url"]
            .as_str()
            .and_then(|u| u.split('&').find_map(|p| p.strip_prefix("stepId=")))
            .unwrap_or_default()
            .to_string()
    };
    let group: Vec<String> = recorded
        .iter()
        .map(step_of)
        .filter(|s| s != "step")
        .collect();
    let view = |step: &str, body: &Value| {
        let mut v = request_view(step, body);
        if step != "step" {
            if let Value::Object(steps) = &mut v["steps"] {
                steps.retain(|k, _| !group.contains(k));
            }
            if let Value::Array(stack) = &mut v["stack"] {
                stack.retain(|k| !k.as_str().is_some_and(|k| group.iter().any(|g| g == k)));
            }
        }
        if let Value::Array(stack) = &mut v["stack"] {
            let positions: Vec<usize> = (0..stack.len())
                .filter(|&i| {
                    stack[i]
                        .as_str()
                        .is_some_and(|k| group.iter().any(|g| g == k))
                })
                .collect();
            let mut members: Vec<Value> = positions.iter().map(|&i| stack[i].clone()).collect();
            members.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            for (i, m) in positions.into_iter().zip(members) {
                stack[i] = m;
            }
        }
        v
    };
    let mut diffs = Vec::new();
    if seen.len() != recorded.len() {
        diffs.push(format!(
            "{} requests sent, {} recorded",
            seen.len(),
            recorded.len()
        ));
    }
    // Sibling targeted calls may arrive in either order: pair them by stepId.
    let mut ours: Vec<&Seen> = seen.iter().collect();
    for (i, theirs) in recorded.iter().enumerate() {
        let step = step_of(theirs);
        let pick = if step == "step" {
            (i < ours.len()).then_some(i)
        } else {
            (i..ours.len()).find(|&j| ours[j].step_id == step)
        };
        let Some(j) = pick else {
            diffs.push(format!(
                "request {:02}: ours has no request for stepId {step}",
                i + 1
            ));
            continue;
        };
        ours.swap(i, j);
        let a = view(&ours[i].step_id, &ours[i].body);
        let b = view(&step, &theirs["body"]);
        if a != b {
            diffs.push(format!(
                "request {:02}:\n  ours:     {a}\n  recorded: {b}",
                i + 1
            ));
        }
    }
    diffs
}

/// Whether a run's outcome is the one recorded in `manifest.json`.
pub fn outcome_diff(run: &RunView, manifest: &Value) -> Option<String> {
    let outcome = &manifest["outcome"];
    let ok = match outcome["result"].as_str() {
        Some("completed") => {
            run.status == inngest_devserver::RunStatus::Completed
                && run.output.as_ref().map(mask) == Some(mask(&outcome["output"]))
        }
        Some("failed") => {
            run.status == inngest_devserver::RunStatus::Failed
                && run
                    .output
                    .as_ref()
                    .map(|o| (o["name"].clone(), o["message"].clone()))
                    == Some((
                        outcome["error"]["name"].clone(),
                        outcome["error"]["message"].clone(),
                    ))
        }
        _ => false,
    };
    (!ok).then(|| {
        format!(
            "run ended {:?} with {:?}; recorded {outcome}",
            run.status, run.output
        )
    })
}
