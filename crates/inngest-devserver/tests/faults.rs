//! Faults: the app fails then recovers, the app is killed mid-run and restarted, the dev server
//! is restarted while a run sleeps, and malformed input gets a 4xx with a message.

mod support;

use std::sync::Arc;
use std::time::Duration;

use inngest_devserver::{DevServer, DevServerConfig, RunStatus, RunView};
use serde_json::{Value, json};
use support::{JsApp, Proxy, RustApp, finished, sync_when_up, wait_finished};

fn welcome_event(id: &str) -> Value {
    json!({
        "name": "user/user.created",
        "data": { "email": "ada@example.com", "userId": "u_1" },
        "id": id,
    })
}

async fn server(state: Option<std::path::PathBuf>) -> DevServer {
    DevServer::start(DevServerConfig {
        port: 0,
        state,
        checkpointing: false,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts")
}

async fn only_run(server: &DevServer, event_id: &str) -> RunView {
    for _ in 0..300 {
        let runs = server
            .engine()
            .event_runs(event_id.into())
            .await
            .expect("running");
        if let Some(r) = runs
            .into_iter()
            .find(|r| r.function_id == "probe-app-welcome-user")
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no run for event {event_id}");
}

async fn until_sleeping(server: &DevServer, run_id: &str) {
    for _ in 0..300 {
        let run = server.run(run_id).await.expect("running").expect("exists");
        if run.steps.iter().any(|s| s.op == "Sleep") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run_id} never reached its sleep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_are_retried_until_the_app_recovers() {
    let server = server(None).await;
    let proxy = Proxy::start().await;
    let app = RustApp::welcome_only(server.url(), &proxy.origin()).await;
    proxy.set_upstream(app.port);
    sync_when_up(&server, &format!("{}/api/inngest", proxy.origin())).await;

    proxy.fail_next(2);
    server
        .send(vec![welcome_event("evt-flaky")])
        .await
        .expect("accepted");
    let run = only_run(&server, "evt-flaky").await;
    let mut done = None;
    for _ in 0..20 {
        if let Some(r) = finished(&server, &run, 200).await {
            done = Some(r);
            break;
        }
        server
            .advance(Duration::from_secs(3 * 86_400))
            .await
            .expect("running");
    }
    let done = done.expect("the run finished");
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.output, Some(json!({ "emailsSent": 2 })));
    // The two failed attempts reached the proxy but not the app; the app saw a clean run.
    let seen = proxy.requests(&run.run_id);
    let attempts: Vec<_> = seen
        .iter()
        .map(|s| {
            (
                s.step_id.clone(),
                s.body["ctx"]["attempt"].clone(),
                s.status,
            )
        })
        .collect();
    assert_eq!(seen.len(), 4, "the app answered 4 calls: {attempts:?}");
    assert_eq!(seen[0].body["ctx"]["attempt"], json!(2), "{attempts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_its_app_being_killed_and_restarted() {
    let server = server(None).await;
    let proxy = Proxy::start().await;
    let app = JsApp::start(server.url(), &proxy.origin());
    proxy.set_upstream(app.port);
    sync_when_up(&server, &format!("{}/api/inngest", proxy.origin())).await;

    server
        .send(vec![welcome_event("evt-killed")])
        .await
        .expect("accepted");
    let run = only_run(&server, "evt-killed").await;
    until_sleeping(&server, &run.run_id).await;
    drop(app); // SIGKILL: the app is gone mid-run
    server
        .advance(Duration::from_secs(3 * 86_400))
        .await
        .expect("running");
    assert_eq!(
        finished(&server, &run, 500).await,
        None,
        "the run waits for its app"
    );

    // The app comes back, on another port: the proxy, whose URL the server calls, follows it.
    let app = JsApp::start(server.url(), &proxy.origin());
    proxy.set_upstream(app.port);
    let mut done = None;
    for _ in 0..40 {
        server
            .advance(Duration::from_secs(60))
            .await
            .expect("running");
        if let Some(r) = finished(&server, &run, 250).await {
            done = Some(r);
            break;
        }
    }
    let done = done.expect("the run finished once the app was back");
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.output, Some(json!({ "emailsSent": 2 })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_run_survives_a_dev_server_restart() {
    let dir = std::env::temp_dir().join(format!("inngest-devserver-test-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let state = dir.join("state.sqlite");
    let proxy = Proxy::start().await;

    let first = server(Some(state.clone())).await;
    let app = RustApp::start(first.url(), &proxy.origin()).await;
    proxy.set_upstream(app.port);
    sync_when_up(&first, &format!("{}/api/inngest", proxy.origin())).await;
    first
        .send(vec![welcome_event("evt-restart")])
        .await
        .expect("accepted");
    let run = only_run(&first, "evt-restart").await;
    until_sleeping(&first, &run.run_id).await;
    first.stop().await;

    // A new server on the same state: the app, the run and its sleep are all there.
    let second = server(Some(state)).await;
    let apps = second.engine().apps().await.expect("running");
    assert_eq!(apps.len(), 1, "the synced app was restored");
    let restored = second
        .run(&run.run_id)
        .await
        .expect("running")
        .expect("the run was restored");
    assert_eq!(restored.status, RunStatus::Running);
    second
        .advance(Duration::from_secs(3 * 86_400))
        .await
        .expect("running");
    let done = wait_finished(&second, &run, 5000).await;
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.output, Some(json!({ "emailsSent": 2 })));
    second.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn malformed_input_gets_a_4xx_with_a_message() {
    let server = server(None).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url());
    let cases: Vec<(&str, &str, u16, &str)> = vec![
        ("/e/key", "not json", 400, "not JSON"),
        (
            "/e/key",
            r#"[{"name":"ok/one"},{"data":{}}]"#,
            400,
            "no name",
        ),
        (
            "/e/key",
            r#"{"name":"a/b","data":[1]}"#,
            400,
            "data must be an object",
        ),
        ("/e/key", r#"{"name":"a/b","ts":"yesterday"}"#, 400, "ts"),
        ("/fn/register", "{}", 400, "sync body"),
        (
            "/fn/register",
            r#"{"url":"http://x","appName":"","functions":[]}"#,
            400,
            "appName",
        ),
        (
            "/fn/register",
            r#"{"url":"http://x","appName":"a","functions":[{"id":"a-f","name":"f","triggers":[{"cron":"61 * * * *"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://x?fnId=a-f&stepId=step"}}}}]}"#,
            400,
            "a-f",
        ),
        (
            "/fn/register",
            r#"{"url":"http://x","appName":"a","functions":[{"id":"a-f","name":"f","triggers":[{"cron":"0 0 30 2 *"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://x?fnId=a-f&stepId=step"}}}}]}"#,
            400,
            "never fires",
        ),
        (
            "/fn/register",
            r#"{"url":"http://x","appName":"a","functions":[{"id":"a-f","name":"f","triggers":[{"event":"a/b","expression":"event.data.("}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://x?fnId=a-f&stepId=step"}}}}]}"#,
            400,
            "invalid expression",
        ),
        ("/e/key", r#"{"name":"a/b","ts":-5}"#, 400, "out of range"),
        (
            "/e/key",
            r#"{"name":"a/b","ts":99999999999999999}"#,
            400,
            "out of range",
        ),
        (
            "/fn/register",
            r#"{"url":"http://x","appName":"a","functions":[{"id":"a-f","name":"f","triggers":[{"event":"a/b","expression":"((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((true))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://x?fnId=a-f&stepId=step"}}}}]}"#,
            400,
            "more than 64 brackets",
        ),
        ("/dev/time/advance", r#"{"duration":"3 eons"}"#, 400, "eons"),
        ("/dev/time/advance", "[]", 400, "duration"),
        (
            "/v1/checkpoint/nope/async",
            r#"{"steps":[]}"#,
            404,
            "not found",
        ),
        ("/no/such/thing", "{}", 404, "no such endpoint"),
    ];
    for (path, body, status, needle) in cases {
        let resp = http
            .post(url(path))
            .body(body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(resp.status().as_u16(), status, "{path} {body}");
        let json: Value = resp.json().await.expect("a JSON error body");
        let message = json["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{path} {body}: {json}");
        assert_eq!(json["status"], json!(status));
    }
    // Over the event API's limits: 413, as JSON.
    let big = format!(
        r#"{{"name":"a/b","data":{{"s":"{}"}}}}"#,
        "x".repeat(600 * 1024)
    );
    let many = serde_json::to_string(&vec![json!({"name": "a/b"}); 5001]).expect("json");
    let huge = format!("[{}]", [big.as_str(); 6].join(","));
    for (what, body, needle) in [
        (
            "one event over 512 KiB",
            big.clone(),
            "larger than 524288 bytes",
        ),
        ("5,001 events", many, "at most 5000"),
        ("a request over 3 MiB", huge, "length limit"),
    ] {
        let resp = http
            .post(url("/e/key"))
            .body(body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(resp.status().as_u16(), 413, "{what}");
        let json: Value = resp.json().await.expect("a JSON error body");
        assert!(
            json["error"].as_str().is_some_and(|m| m.contains(needle)),
            "{what}: {json}"
        );
        assert_eq!(json["status"], json!(413), "{what}");
    }
    // Flow-control numbers out of the Go server's ranges are refused at sync, by name.
    let sync_with = |option: Value| {
        let mut f = json!({ "id": "a-f", "name": "f", "triggers": [{ "event": "a/b" }],
            "steps": { "step": { "id": "step", "name": "step",
                "runtime": { "type": "http", "url": "http://x?fnId=a-f&stepId=step" } } } });
        if let (Value::Object(f), Value::Object(o)) = (&mut f, option) {
            f.extend(o);
        }
        json!({ "url": "http://x", "appName": "a", "functions": [f] }).to_string()
    };
    for (option, needle) in [
        (
            json!({"rateLimit": {"limit": 0, "period": "1m"}}),
            "rateLimit: limit must be greater than 0",
        ),
        (
            json!({"rateLimit": {"limit": 5, "period": "48h"}}),
            "rateLimit: period must be at most 24h",
        ),
        (
            json!({"debounce": {"period": "10ms"}}),
            "debounce: period must be between 1s and 7d",
        ),
        (
            json!({"debounce": {"period": "30d"}}),
            "debounce: period must be between 1s and 7d",
        ),
        (
            json!({"batchEvents": {"maxSize": 5, "timeout": "100ms"}}),
            "batchEvents: timeout must be at least 1s",
        ),
        (
            json!({"throttle": {"limit": 1, "period": "1ms"}}),
            "throttle: period must be at least 1s",
        ),
    ] {
        let resp = http
            .post(url("/fn/register"))
            .body(sync_with(option.clone()))
            .send()
            .await
            .expect("an answer");
        assert_eq!(resp.status().as_u16(), 400, "{option}");
        let json: Value = resp.json().await.expect("a JSON error body");
        assert!(
            json["error"].as_str().is_some_and(|m| m.contains(needle)),
            "{option}: {json}"
        );
    }
    // Numbers at the ends of u64 are taken (saturating), not a panic of the engine.
    for option in [
        json!({"throttle": {"limit": u64::MAX, "burst": u64::MAX, "period": "1m"}}),
        json!({"throttle": {"limit": 0, "period": "1m"}}),
        json!({"batchEvents": {"maxSize": u64::MAX, "timeout": "1s"}}),
        json!({"timeouts": {"finish": "200000d"}}),
    ] {
        let resp = http
            .post(url("/fn/register"))
            .body(sync_with(option.clone()))
            .send()
            .await
            .expect("an answer");
        assert_eq!(resp.status().as_u16(), 200, "{option}");
        let sent = http
            .post(url("/e/key"))
            .body(r#"{"name":"a/b"}"#)
            .send()
            .await
            .expect("an answer");
        assert_eq!(
            sent.status().as_u16(),
            200,
            "{option}: the engine still runs"
        );
    }
    // The clock moves by centuries, but not past the year 9999 (it used to wrap to 1970).
    let mut refused = None;
    for step in 0..20 {
        let resp = http
            .post(url("/dev/time/advance"))
            .body(r#"{"duration":"200000d"}"#)
            .send()
            .await
            .expect("an answer");
        if resp.status().as_u16() != 200 {
            refused = Some((
                step,
                resp.status().as_u16(),
                resp.json::<Value>().await.expect("json"),
            ));
            break;
        }
    }
    let (step, status, json) = refused.expect("the clock is stopped before the year 9999");
    assert!(step >= 14, "refused too early, at step {step}");
    assert_eq!(status, 400);
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|m| m.contains("past the year 9999")),
        "{json}"
    );
    assert!(server.clock().now().format("%Y").to_string().as_str() > "9000");
    // A URI over 8 KiB: 414, as JSON.
    let resp = http
        .get(url(&format!("/v1/runs/{}", "r".repeat(10_000))))
        .send()
        .await
        .expect("an answer");
    assert_eq!(resp.status().as_u16(), 414);
    let json: Value = resp.json().await.expect("a JSON error body");
    assert_eq!(json["status"], json!(414), "{json}");
    // A method a route does not take: 405, as JSON.
    let resp = http.delete(url("/e/key")).send().await.expect("an answer");
    assert_eq!(resp.status().as_u16(), 405);
    let json: Value = resp.json().await.expect("a JSON error body");
    assert_eq!(json["status"], json!(405), "{json}");
    // Nothing of the refused batches was stored (only the four accepted `a/b` events), and
    // the server still serves.
    let (_, events) = server.engine().recent().await.expect("running");
    assert!(
        events.iter().all(|e| e["name"] == "a/b") && events.len() == 4,
        "{events:?}"
    );
    let info: Value = http
        .get(url("/dev"))
        .send()
        .await
        .expect("up")
        .json()
        .await
        .expect("json");
    assert_eq!(info["name"], "inngest-devserver");
}

/// A caller that must know the address first (to hand it to an app it starts) binds it and
/// passes the listener: the server serves there, and nothing could take the port in between.
#[tokio::test]
async fn a_server_started_on_a_bound_listener_serves_on_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("bound");
    let server = DevServer::start_on(DevServerConfig::default(), listener)
        .await
        .expect("the dev server starts");
    assert_eq!(server.url(), format!("http://{addr}"));
    let info: Value = reqwest::get(format!("http://{addr}/dev"))
        .await
        .expect("it answers on the listener")
        .json()
        .await
        .expect("json");
    assert_eq!(info["name"], "inngest-devserver");
    server.stop().await;
}

#[tokio::test]
async fn a_snake_case_sync_body_as_the_python_sdk_sends_registers() {
    let server = server(None).await;
    let http = reqwest::Client::new();
    let body = json!({
        "url": "http://127.0.0.1:9/api/inngest",
        "deploy_type": "ping",
        "appname": "py-app",
        "framework": "flask",
        "sdk": "py:v0.5.19",
        "v": "0.1",
        "functions": [{
            "id": "py-app-hello",
            "name": "hello",
            "triggers": [{ "event": "py/hello" }],
            "steps": { "step": { "id": "step", "name": "step",
                "runtime": { "type": "http", "url": "http://127.0.0.1:9/api/inngest?fnId=py-app-hello&stepId=step" },
                "retries": { "attempts": 2 } } },
        }],
    });
    let resp = http
        .post(format!("{}/fn/register", server.url()))
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(answer, json!({ "ok": true, "modified": true }));
    let apps = server.engine().apps().await.expect("running");
    assert_eq!(apps[0].id, "py-app");
    assert_eq!(apps[0].functions[0].id, "py-app-hello");
    assert_eq!(
        apps[0].functions[0].max_attempts, 3,
        "retries 2 means 3 attempts"
    );
    // The same body again changes nothing.
    let again: Value = http
        .post(format!("{}/fn/register", server.url()))
        .json(&body)
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("json");
    assert_eq!(again["modified"], json!(false));
}

/// A stand-in for an SDK, for answers no official SDK gives: `answer` gets each execution
/// request's body and returns the status and JSON body to send back. It serves one function,
/// `{app}-f`, triggered by `{app}/go`, and registers it with the server.
struct StubSdk {
    calls: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl StubSdk {
    async fn start(
        server: &DevServer,
        app: &str,
        answer: impl Fn(&Value) -> (u16, Value) + Clone + Send + Sync + 'static,
    ) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let router = axum::Router::new().route(
            "/api/inngest",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let (seen, answer) = (seen.clone(), answer.clone());
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = answer(&body);
                    (
                        axum::http::StatusCode::from_u16(status).expect("a status"),
                        [("x-inngest-sdk", "stub:v0")],
                        axum::Json(body),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!(
            "http://{}/api/inngest",
            listener.local_addr().expect("bound")
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let fn_id = format!("{app}-f");
        let sync = json!({
            "url": url, "appName": app, "deployType": "ping",
            "functions": [{ "id": fn_id, "name": "f", "triggers": [{ "event": format!("{app}/go") }],
                "steps": { "step": { "id": "step", "name": "step",
                    "runtime": { "type": "http", "url": format!("{url}?fnId={fn_id}&stepId=step") } } } }],
        });
        let registered = reqwest::Client::new()
            .post(format!("{}/fn/register", server.url()))
            .json(&sync)
            .send()
            .await
            .expect("an answer");
        assert_eq!(registered.status().as_u16(), 200);
        Self { calls, task }
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for StubSdk {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a run of the stub's function, checks that the failed first attempt is not called
/// again at once, then moves the clock until the run ends; it must have failed, after one
/// call per attempt (5 by default).
async fn fails_after_its_attempts(server: &DevServer, stub: &StubSdk, app: &str) -> RunView {
    let ids = server
        .send(vec![json!({ "name": format!("{app}/go"), "data": {} })])
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stub.calls(), 1, "called again without waiting");
    let mut done = None;
    for _ in 0..20 {
        server
            .advance(Duration::from_secs(3 * 3600))
            .await
            .expect("running");
        if let Some(r) = server
            .finished_run(&ids[0], &format!("{app}-f"), Duration::from_millis(50))
            .await
            .expect("running")
        {
            done = Some(r);
            break;
        }
    }
    let done = done.unwrap_or_else(|| panic!("the run of {app}-f never ended"));
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    assert_eq!(stub.calls(), 5, "one call per attempt");
    done
}

/// Every call gets `206 []`. The server must back off and fail the run after its attempts,
/// not call again at once forever.
#[tokio::test]
async fn an_sdk_that_reports_nothing_is_retried_with_backoff_then_failed() {
    let server = server(None).await;
    let stub = StubSdk::start(&server, "stub", |_| (206, json!([]))).await;
    fails_after_its_attempts(&server, &stub, "stub").await;
}

/// An op whose time does not parse (a wait's `timeout` of "soon", a sleep of "whenever") is a
/// failed attempt, as in the Go executor: retried with backoff, then the run fails, naming the
/// bad value. A wait must not wait forever instead.
#[tokio::test]
async fn an_unparsable_wait_timeout_or_sleep_fails_the_run_after_its_attempts() {
    let server = server(None).await;
    let cases = [
        (
            "waiter",
            json!({ "op": "WaitForEvent", "id": "w1", "name": "stub/never",
                    "opts": { "event": "stub/never", "timeout": "soon" } }),
            ("the wait-for-event timeout is not valid: ", "\"soon\""),
        ),
        (
            "sleeper",
            json!({ "op": "Sleep", "id": "s1", "name": "whenever" }),
            ("the sleep's length is not valid: ", "\"whenever\""),
        ),
    ];
    for (app, op, (prefix, value)) in cases {
        let stub = StubSdk::start(&server, app, move |_| (206, json!([op.clone()]))).await;
        let done = fails_after_its_attempts(&server, &stub, app).await;
        // The Go executor's own errors are `{"error": {error, name, message}}`.
        let error = done.output.as_ref().map(|o| o["error"]["message"].clone());
        let error = error
            .and_then(|m| m.as_str().map(str::to_string))
            .unwrap_or_default();
        assert!(
            error.starts_with(prefix) && error.contains(value),
            "{app}: {done:?}"
        );
    }
}

/// The JS SDK sends `timeout: ""` for a timeout it cannot read (`ms("soon")`), and the Go
/// executor reads an empty timeout as "now": the wait times out at once, with no clock move.
#[tokio::test]
async fn an_empty_wait_timeout_times_out_at_once() {
    let server = server(None).await;
    let _stub = StubSdk::start(&server, "hasty", |body| match body["steps"].get("w1") {
        Some(waited) => (200, json!({ "waited": waited })),
        None => (
            206,
            json!([{ "op": "WaitForEvent", "id": "w1", "name": "hasty/never",
                     "opts": { "event": "hasty/never", "timeout": "" } }]),
        ),
    })
    .await;
    let ids = server
        .send(vec![json!({ "name": "hasty/go", "data": {} })])
        .await
        .expect("sent");
    let done = server
        .finished_run(&ids[0], "hasty-f", Duration::from_secs(5))
        .await
        .expect("running")
        .expect("the wait timed out and the run finished");
    assert_eq!(done.status, RunStatus::Completed, "{done:?}");
    assert_eq!(done.output, Some(json!({ "waited": null })));
}

/// A function id is one app's: another app registering it is refused with a 409 that names
/// the owner (the Go server keeps both and routes to the first, so the second would silently
/// never run), and the owner keeps it.
#[tokio::test]
async fn another_app_cannot_take_a_function_id() {
    let server = server(None).await;
    let http = reqwest::Client::new();
    let sync = |app: &str| {
        json!({ "url": format!("http://{app}"), "appName": app, "functions": [{
            "id": "shop-checkout", "name": "checkout", "triggers": [{ "event": "a/b" }],
            "steps": { "step": { "id": "step", "name": "step", "runtime": { "type": "http",
                "url": format!("http://{app}?fnId=shop-checkout&stepId=step") } } } }] })
    };
    let register = |body: Value| {
        http.post(format!("{}/fn/register", server.url()))
            .json(&body)
            .send()
    };
    assert_eq!(
        register(sync("shop"))
            .await
            .expect("an answer")
            .status()
            .as_u16(),
        200
    );
    let taken = register(sync("shop-imposter")).await.expect("an answer");
    assert_eq!(taken.status().as_u16(), 409);
    let json: Value = taken.json().await.expect("json");
    let message = json["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("already registered by app \"shop\""),
        "{json}"
    );
    // The owner re-syncs unchanged, and still has it.
    let again: Value = register(sync("shop"))
        .await
        .expect("an answer")
        .json()
        .await
        .expect("json");
    assert_eq!(again["modified"], json!(false), "{again}");
    let apps = server.engine().apps().await.expect("running");
    assert_eq!(apps.len(), 1, "{apps:?}");
    server.stop().await;
}
