//! Apps that answer badly, on purpose: cut-off bodies, answers that ask for absurd delays,
//! conditions that would blow the stack, apps that never answer. The server must fail the
//! attempt or the run, say why, and keep serving everyone else.

// Shared with `inngest_cases.rs`, which uses all of it; this file uses a part.
#[path = "golden/scripted_sdk.rs"]
#[allow(dead_code)]
mod scripted_sdk;

use std::time::Duration;

use inngest_devserver::{DevServer, DevServerConfig, RunStatus, RunView};
use inngest_runtime::protocol::sync::RegisterRequest;
use scripted_sdk::{Answer, ScriptedSdk};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn server(retry_interval: Option<Duration>) -> DevServer {
    server_with(DevServerConfig {
        retry_interval,
        ..DevServerConfig::default()
    })
    .await
}

async fn server_with(config: DevServerConfig) -> DevServer {
    DevServer::start(DevServerConfig {
        port: 0,
        checkpointing: false,
        ..config
    })
    .await
    .expect("the dev server starts")
}

/// Registers `app`'s function `f` (triggered by `app/go`, `retries` retries) at `url`.
async fn register(server: &DevServer, app: &str, url: &str, retries: u32) {
    let id = format!("{app}-f");
    let sync: RegisterRequest = serde_json::from_value(json!({
        "url": url, "deployType": "ping", "appName": app, "sdk": "go:v0.15.1", "v": "0.1",
        "functions": [{
            "id": id, "name": "f", "triggers": [{ "event": format!("{app}/go") }],
            "steps": { "step": { "id": "step", "name": "step", "retries": { "attempts": retries },
                "runtime": { "type": "http", "url": format!("{url}?fnId={id}&step=step") } } },
        }],
    }))
    .expect("a sync");
    server.engine().register(sync).await.expect("registers");
}

/// A scripted SDK serving `app`'s function `f` (see [`register`]).
async fn scripted_app(server: &DevServer, app: &str, retries: u32) -> ScriptedSdk {
    let sdk = ScriptedSdk::start().await;
    register(server, app, sdk.url(), retries).await;
    sdk
}

/// Sends `app/go` and returns the run it started.
async fn start(server: &DevServer, app: &str) -> String {
    let ids = server
        .send(vec![json!({ "name": format!("{app}/go"), "data": {} })])
        .await
        .expect("accepted");
    for _ in 0..200 {
        let runs = server
            .engine()
            .event_runs(ids[0].clone())
            .await
            .expect("running");
        if let Some(r) = runs.first() {
            return r.run_id.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no run started for {app}");
}

async fn finished(server: &DevServer, run_id: &str) -> RunView {
    for _ in 0..300 {
        let run = server.run(run_id).await.expect("running").expect("exists");
        if run.status != RunStatus::Running {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run_id} did not finish");
}

/// An app that answers every call with `raw` (an HTTP response, as bytes) and closes the
/// connection; returns its serve URL.
/// Reads one request's head and its body (`Content-Length`); false if the connection ended
/// first.
async fn read_request(conn: &mut tokio::net::TcpStream) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    loop {
        let Ok(n) = conn.read(&mut buf).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= head_end + 4 + length {
                return true;
            }
        }
    }
}

/// An app on a raw socket whose every connection gets the answer `answer` writes.
async fn socket_app<F, Fut>(answer: F) -> (String, tokio::task::JoinHandle<()>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let url = format!(
        "http://{}/api/inngest",
        listener.local_addr().expect("bound")
    );
    let answer = std::sync::Arc::new(answer);
    let task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                if read_request(&mut conn).await {
                    answer(conn).await;
                }
            });
        }
    });
    (url, task)
}

/// An app that answers every request with the bytes `raw`, then closes.
async fn raw_app(raw: &'static [u8]) -> (String, tokio::task::JoinHandle<()>) {
    socket_app(move |mut conn| async move {
        let _ = conn.write_all(raw).await;
        let _ = conn.shutdown().await;
    })
    .await
}

/// A `Content-Length` of 100 and then 20 bytes and a closed connection is a failed attempt,
/// not a run completed with `""`.
#[tokio::test]
async fn a_cut_off_answer_is_a_failed_attempt() {
    let server = server(None).await;
    let (url, app) = raw_app(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-inngest-sdk: go:v0.15.1\r\n\
          content-length: 100\r\n\r\n{\"emailsSent\": 2, \"",
    )
    .await;
    register(&server, "cut", &url, 0).await;
    let run = finished(&server, &start(&server, "cut").await).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let message = run
        .output
        .as_ref()
        .map(|o| o["error"]["message"].to_string());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("error reading the response body")),
        "{run:?}"
    );
    app.abort();
    server.stop().await;
}

/// An answer that never ends (a chunked body, written as fast as it is read) fails the attempt
/// once it passes the Go executor's 8 MiB limit, with its message, instead of being held whole;
/// the app sees its connection dropped.
#[tokio::test]
async fn an_endless_answer_fails_the_attempt_at_the_size_limit() {
    let server = server(None).await;
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = written.clone();
    let (url, app) = socket_app(move |mut conn| {
        let count = count.clone();
        async move {
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         x-inngest-sdk: go:v0.15.1\r\ntransfer-encoding: chunked\r\n\r\n";
            if conn.write_all(head).await.is_err() {
                return;
            }
            let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
            // At most 64 MiB: far past the limit, and a bound on this test if the server read
            // everything.
            for _ in 0..1024 {
                if conn.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
                count.fetch_add(0x10000, std::sync::atomic::Ordering::SeqCst);
            }
        }
    })
    .await;
    register(&server, "endless", &url, 0).await;
    let run = finished(&server, &start(&server, "endless").await).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let message = run
        .output
        .as_ref()
        .map(|o| o["error"]["message"].to_string());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("exceeds the maximum size limit")),
        "{run:?}"
    );
    let sent = written.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        sent < 32 * 1024 * 1024,
        "the server read {sent} bytes before it stopped"
    );
    app.abort();
    server.stop().await;
}

/// `retry_interval: 0` means the backoff table, not a retry loop as fast as the app fails.
#[tokio::test]
async fn a_zero_retry_interval_does_not_spin() {
    let server = server(Some(Duration::ZERO)).await;
    let mut sdk = scripted_app(&server, "spin", 3).await;
    start(&server, "spin").await;
    let first = sdk.next(Duration::from_secs(5), "the first call").await;
    first.answer(Answer::not_sdk(500, "down"));
    // The first retry of the table is 15 s away.
    sdk.quiet(
        Duration::from_millis(700),
        "the retry after a zero interval",
    )
    .await;
    server.stop().await;
}

/// A wait whose `if` has more brackets than the CEL parser may take fails its run at once,
/// with the reason; the server stays up and serves the next run.
#[tokio::test]
async fn a_wait_condition_nested_too_deep_fails_the_run_and_the_server_stays_up() {
    let server = server(None).await;
    let mut sdk = scripted_app(&server, "deep", 3).await;
    let run_id = start(&server, "deep").await;
    let deep = format!("{}true{}", "(".repeat(70), ")".repeat(70));
    sdk.next(Duration::from_secs(5), "the first call")
        .await
        .answer(Answer::ops(json!([{
            "op": "WaitForEvent", "id": "w", "name": "deep/never",
            "opts": { "event": "deep/never", "timeout": "1h", "if": deep },
        }])));
    let run = finished(&server, &run_id).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let message = run.output.as_ref().map(|o| o["error"]["message"].clone());
    assert_eq!(
        message,
        Some(json!(
            "error compiling expression: the expression has more than 64 brackets"
        ))
    );
    // Still serving: the next run gets its call.
    start(&server, "deep").await;
    sdk.next(Duration::from_secs(5), "the next run's call")
        .await
        .answer(Answer::done(json!("ok")));
    server.stop().await;
}

/// `Retry-After` values far out of range neither panic nor wait forever: a number too long to
/// be seconds is ignored (the backoff applies), a date a millennium away waits a day.
#[tokio::test]
async fn absurd_retry_after_values_are_clamped_or_ignored() {
    let server = server(None).await;
    let mut sdk = scripted_app(&server, "late", 3).await;
    let run_id = start(&server, "late").await;
    let step_error = json!([{ "op": "StepError", "id": "s", "name": "s",
                              "error": { "name": "Error", "message": "later" } }]);
    sdk.next(Duration::from_secs(5), "attempt 0")
        .await
        .answer(Answer::ops(step_error.clone()).retry_after("99999999999999999"));
    sdk.quiet(Duration::from_millis(300), "before the backoff")
        .await;
    server
        .advance(Duration::from_secs(46))
        .await
        .expect("running");
    let second = sdk
        .next(Duration::from_secs(5), "attempt 1, after the backoff")
        .await;
    assert_eq!(second.body["ctx"]["attempt"], json!(1));
    second.answer(Answer::ops(step_error).retry_after("3026-01-01T00:00:00Z"));
    sdk.quiet(Duration::from_millis(300), "before a day").await;
    server
        .advance(Duration::from_secs(23 * 3600))
        .await
        .expect("running");
    sdk.quiet(Duration::from_millis(300), "before a day").await;
    server
        .advance(Duration::from_secs(3600))
        .await
        .expect("running");
    let third = sdk
        .next(Duration::from_secs(5), "attempt 2, a day later")
        .await;
    assert_eq!(third.body["ctx"]["attempt"], json!(2));
    third.answer(Answer::done(Value::Null));
    assert_eq!(
        finished(&server, &run_id).await.status,
        RunStatus::Completed
    );
    server.stop().await;
}

/// An app that accepts connections, reads the requests and never answers.
async fn silent_app() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let url = format!(
        "http://{}/api/inngest",
        listener.local_addr().expect("bound")
    );
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = conn.try_read(&mut buf);
            held.push(conn);
        }
    });
    (url, task)
}

/// An app that takes calls and never answers holds at most its share of the server's call
/// slots, so other apps' runs go on; its calls time out and count as failed attempts.
#[tokio::test]
async fn an_app_that_never_answers_does_not_stall_the_others_and_its_calls_time_out() {
    let server = server_with(DevServerConfig {
        call_timeout: Duration::from_millis(1500),
        ..DevServerConfig::default()
    })
    .await;
    let (silent_url, silent) = silent_app().await;
    register(&server, "silent", &silent_url, 0).await;
    let mut sdk = scripted_app(&server, "fine", 0).await;
    // More hanging calls than the server once had slots in all (64).
    let events: Vec<Value> = (0..70)
        .map(|_| json!({ "name": "silent/go", "data": {} }))
        .collect();
    let ids = server.send(events).await.expect("accepted");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let run_id = start(&server, "fine").await;
    sdk.next(
        Duration::from_millis(1000),
        "the other app's call, while the first hangs",
    )
    .await
    .answer(Answer::done(json!("ok")));
    assert!(started.elapsed() < Duration::from_millis(1200));
    assert_eq!(
        finished(&server, &run_id).await.status,
        RunStatus::Completed
    );
    // The silent app's calls time out: failed attempts (no retries here), with the reason.
    let runs = server
        .engine()
        .event_runs(ids[0].clone())
        .await
        .expect("running");
    let silent_run = finished(&server, &runs[0].run_id).await;
    assert_eq!(silent_run.status, RunStatus::Failed, "{silent_run:?}");
    let message = silent_run
        .output
        .as_ref()
        .map(|o| o["error"]["message"].to_string());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("error performing request")),
        "{silent_run:?}"
    );
    silent.abort();
    server.stop().await;
}

/// The message of a failed run's error.
fn error_message(run: &RunView) -> String {
    run.output
        .as_ref()
        .and_then(|o| o["error"]["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// `n` `StepRun` ops with ids starting at `from`, each returning `data`.
fn step_runs(from: usize, n: usize, data: &Value) -> Value {
    (from..from + n)
        .map(|i| json!({ "op": "StepRun", "id": format!("{:040x}", i), "name": "s", "data": data }))
        .collect()
}

/// A run that has memoized the Go executor's 1,000 steps makes no more calls: it fails with
/// Go's error before the next one. An answer planning more than 1,000 steps at once fails its
/// run too.
#[tokio::test]
async fn a_run_past_its_step_limit_fails_before_its_next_call() {
    let server = server(None).await;
    let mut sdk = scripted_app(&server, "many", 3).await;
    let run_id = start(&server, "many").await;
    sdk.next(Duration::from_secs(10), "the first call")
        .await
        .answer(Answer::ops(step_runs(0, 999, &json!(1))));
    sdk.next(Duration::from_secs(10), "the call after 999 steps")
        .await
        .answer(Answer::ops(step_runs(999, 1, &json!(1))));
    let run = finished(&server, &run_id).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(
        error_message(&run),
        "The function run exceeded the step limit of 1000 steps."
    );
    sdk.quiet(Duration::from_millis(300), "a call after the limit")
        .await;

    let run_id = start(&server, "many").await;
    sdk.next(Duration::from_secs(10), "the second run's call")
        .await
        .answer(Answer::ops(
            (0..1001)
                .map(|i| json!({ "op": "StepPlanned", "id": format!("{:040x}", i), "name": "p" }))
                .collect(),
        ));
    let run = finished(&server, &run_id).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert!(error_message(&run).contains("step limit"), "{run:?}");
    sdk.quiet(
        Duration::from_millis(300),
        "a call of the 1,001 planned steps",
    )
    .await;
    server.stop().await;
}

/// Steps checkpointed past the Go executor's 32 MiB of state fail their run with Go's error at
/// once, instead of growing it without end (a checkpoint may carry 16 MiB, and may come again).
#[tokio::test]
async fn steps_checkpointed_past_the_state_size_limit_fail_the_run() {
    let server = server(None).await;
    let mut sdk = scripted_app(&server, "big", 3).await;
    let run_id = start(&server, "big").await;
    // The call in flight, during which the SDK checkpoints.
    let call = sdk.next(Duration::from_secs(10), "the first call").await;
    let big = json!("x".repeat(6 * 1000 * 1000));
    for round in 0..3 {
        let run = server.run(&run_id).await.expect("running").expect("exists");
        assert_eq!(run.status, RunStatus::Running, "within the limit: {run:?}");
        let steps: Vec<inngest_runtime::protocol::GeneratorOp> =
            serde_json::from_value(step_runs(round * 2, 2, &big)).expect("ops");
        server
            .engine()
            .checkpoint(run_id.clone(), steps)
            .await
            .expect("taken");
    }
    // 36 MB memoized: past the limit after the third checkpoint.
    let run = finished(&server, &run_id).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(
        error_message(&run),
        "The function run exceeded the state size limit of 33554432 bytes."
    );
    call.answer(Answer::done(json!(null)));
    sdk.quiet(Duration::from_millis(300), "a call after the limit")
        .await;

    // As the Go checkpoint API: a checkpoint that completes the run is not held to the limit.
    let run_id = start(&server, "big").await;
    let call = sdk
        .next(Duration::from_secs(10), "the next run's call")
        .await;
    let mut steps: Vec<inngest_runtime::protocol::GeneratorOp> =
        serde_json::from_value(step_runs(0, 6, &big)).expect("ops");
    steps.push(
        serde_json::from_value(json!({ "op": "RunComplete", "id": "done", "data": "ok" }))
            .expect("an op"),
    );
    server
        .engine()
        .checkpoint(run_id.clone(), steps)
        .await
        .expect("taken");
    let run = finished(&server, &run_id).await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    call.answer(Answer::done(json!(null)));
    server.stop().await;
}

/// A `step.invoke` whose event the event API would refuse (its payload over 512 KiB) starts no
/// child run: the step fails with why, and the run's next call carries that error in its memo.
#[tokio::test]
async fn an_invoke_over_the_event_size_limit_fails_its_step() {
    let server = server(None).await;
    let mut sdk = scripted_app(&server, "inv", 0).await;
    start(&server, "inv").await;
    let step = format!("{:040x}", 7);
    sdk.next(Duration::from_secs(5), "the first call")
        .await
        .answer(Answer::ops(json!([{
            "op": "InvokeFunction", "id": step, "name": "child",
            "opts": { "function_id": "inv-f", "payload": { "data": { "pad": "x".repeat(600 * 1024) } } },
        }])));
    let next = sdk
        .next(Duration::from_secs(5), "the call after the invoke")
        .await;
    assert_eq!(next.fn_id, "inv-f");
    let memo = &next.body["steps"][&step];
    let message = memo["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("could not invoke inv-f") && message.contains("larger than"),
        "{memo}"
    );
    next.answer(Answer::done(json!(null)));
    // No child run was called.
    sdk.quiet(Duration::from_millis(300), "a child run's call")
        .await;
    server.stop().await;
}

/// A step memoized already and reported again (as a checkpointed step may be in the answer
/// that follows) is saved once: its first result stays, and its history has one record.
#[tokio::test]
async fn a_step_reported_again_is_saved_once() {
    let server = server(None).await;
    let mut sdk = scripted_app(&server, "again", 0).await;
    let run_id = start(&server, "again").await;
    let (a, b) = (format!("{:040x}", 1), format!("{:040x}", 2));
    sdk.next(Duration::from_secs(5), "the first call")
        .await
        .answer(Answer::ops(
            json!([{ "op": "StepRun", "id": a, "name": "a", "data": 1 }]),
        ));
    sdk.next(Duration::from_secs(5), "the second call")
        .await
        .answer(Answer::ops(json!([
            { "op": "StepRun", "id": a, "name": "a", "data": 2 },
            { "op": "StepRun", "id": b, "name": "b", "data": 3 },
        ])));
    let third = sdk.next(Duration::from_secs(5), "the third call").await;
    assert_eq!(
        third.body["steps"][&a],
        json!({ "data": 1 }),
        "the first result stays"
    );
    assert_eq!(third.body["steps"][&b], json!({ "data": 3 }));
    third.answer(Answer::done(json!("ok")));
    let run = finished(&server, &run_id).await;
    let records = run.steps.iter().filter(|s| s.id == a).count();
    assert_eq!(records, 1, "{:?}", run.steps);
    server.stop().await;
}
