//! Inngest's own conformance cases (see `golden/mod.rs`), held against both sides:
//!
//! - `server_side::*`: the dev server, with a scripted SDK playing the official fixture;
//! - `sdk_side::*`: our runtime, with the fixture's functions written in Rust and every
//!   request of a case sent to them in process.

mod golden;

use std::time::Duration;

use golden::scripted_sdk::{Incoming, ScriptedSdk};
use golden::{Case, Exchange, Expect, Step, answer_view, request_view};
use inngest_devserver::{DevServer, DevServerConfig};
use inngest_runtime::protocol::sync::RegisterRequest;
use serde_json::{Value, json};

/// The function configs of a case, synced as a Go SDK app at `url`.
fn register_request(case: &Case, url: &str) -> RegisterRequest {
    let functions: Vec<Value> = case
        .functions
        .iter()
        .map(|f| {
            let id = format!("{}-{}", case.app, f["id"].as_str().unwrap_or_default());
            let mut step = json!({
                "id": "step", "name": "step",
                "runtime": { "type": "http", "url": format!("{url}?fnId={id}&step=step") },
            });
            if let Some(retries) = f.get("retries") {
                step["retries"] = json!({ "attempts": retries });
            }
            let mut config = json!({
                "id": id, "name": f["id"], "triggers": f["triggers"], "steps": { "step": step },
            });
            if let Some(cancel) = f.get("cancel") {
                config["cancel"] = cancel.clone();
            }
            config
        })
        .collect();
    serde_json::from_value(json!({
        "url": url, "deployType": "ping", "framework": "scripted", "appName": case.app,
        "functions": functions, "sdk": "go:v0.15.1", "v": "0.1",
    }))
    .expect("a register request")
}

/// Checks one request against its expectation.
fn check(at: &str, case: &Case, incoming: &Incoming, expect: &Expect) {
    let function = format!("{}-{}", case.app, expect.function);
    assert_eq!(
        incoming.fn_id, function,
        "{at}: the request is for another function"
    );
    assert_eq!(
        incoming.step_header.as_deref(),
        Some(incoming.step_id.as_str()),
        "{at}: X-Inngest-Step-ID and stepId differ"
    );
    let ours = request_view(&incoming.step_id, &incoming.body, expect);
    let theirs = expect.view();
    assert!(
        ours == theirs,
        "{at}: the request differs from Inngest's\n  ours:     {}\n  expected: {}",
        ours,
        theirs
    );
}

mod server_side {
    use super::*;

    /// Plays a case against a fresh dev server.
    async fn play(case: Case) {
        let mut sdk = ScriptedSdk::start().await;
        let server = DevServer::start(DevServerConfig {
            port: 0,
            ..DevServerConfig::default()
        })
        .await
        .expect("the dev server starts");
        server
            .engine()
            .register(register_request(&case, sdk.url()))
            .await
            .expect("the functions register");
        // The case's run is the one its first request belongs to.
        let mut run_id: Option<String> = None;
        let remember = |run_id: &mut Option<String>, incoming: &Incoming| {
            if run_id.is_none() {
                *run_id = incoming.body["ctx"]["run_id"].as_str().map(str::to_string);
            }
        };
        for (i, step) in case.script.iter().enumerate() {
            let at = format!("{} ({}), step {}", case.id, case.source, i + 1);
            match step {
                Step::Send(event) => {
                    server
                        .send(vec![event.clone()])
                        .await
                        .expect("the event is accepted");
                }
                Step::Exchange(x) => {
                    let Exchange {
                        expect,
                        answer,
                        within,
                    } = x.as_ref();
                    let incoming = sdk.next(*within, &at).await;
                    check(&at, &case, &incoming, expect);
                    remember(&mut run_id, &incoming);
                    incoming.answer(answer.clone());
                }
                Step::Group(exchanges) => {
                    let mut got = Vec::new();
                    for x in exchanges {
                        got.push(sdk.next(x.within, &at).await);
                    }
                    for x in exchanges {
                        let pos = got
                            .iter()
                            .position(|g| g.step_id == x.expect.step_id)
                            .unwrap_or_else(|| {
                                panic!("{at}: no call of stepId {}", x.expect.step_id)
                            });
                        let incoming = got.swap_remove(pos);
                        check(&at, &case, &incoming, &x.expect);
                        remember(&mut run_id, &incoming);
                        incoming.answer(x.answer.clone());
                    }
                }
                Step::Quiet(d) => sdk.quiet(*d, &at).await,
                Step::Advance(d) => server.advance(*d).await.expect("running"),
                Step::Sleep(d) => tokio::time::sleep(*d).await,
                Step::CancelViaApi => {
                    let id = run_id.clone().expect("a run to cancel");
                    let status = reqwest::Client::new()
                        .delete(format!("{}/v1/runs/{id}", server.url()))
                        .bearer_auth("test")
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await
                        .expect("the API answers")
                        .status();
                    assert!(status.is_success(), "{at}: cancelling answered {status}");
                }
            }
        }
        if let Some(outcome) = &case.outcome {
            let id = run_id.clone().expect("the case saw its run");
            let mut run = None;
            for _ in 0..100 {
                let r = server
                    .run(&id)
                    .await
                    .expect("running")
                    .expect("the run exists");
                if r.status != inngest_devserver::RunStatus::Running {
                    run = Some(r);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let run = run.unwrap_or_else(|| panic!("{}: the run never finished", case.id));
            assert_eq!(run.status, outcome.status, "{}: {run:?}", case.id);
            if let Some(output) = &outcome.output {
                assert_eq!(run.output.as_ref(), Some(output), "{}: output", case.id);
            }
            if let Some(text) = outcome.output_contains {
                let got = run
                    .output
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default();
                assert!(
                    got.contains(text),
                    "{}: output {got} lacks {text:?}",
                    case.id
                );
            }
            lifecycle_event(&server, &case, &run).await;
        }
        server.stop().await;
    }

    /// A failed or cancelled run's `inngest/function.failed` / `.cancelled` event, whose id is
    /// the run's, as the Go executor emits it (`finalize.go`).
    async fn lifecycle_event(server: &DevServer, case: &Case, run: &inngest_devserver::RunView) {
        use inngest_devserver::RunStatus;
        let (name, status) = match run.status {
            RunStatus::Failed => ("inngest/function.failed", "Failed"),
            RunStatus::Cancelled => ("inngest/function.cancelled", "Cancelled"),
            _ => return,
        };
        let event = server
            .engine()
            .event(run.run_id.clone())
            .await
            .expect("running")
            .unwrap_or_else(|| panic!("{}: no {name} event with the run's id", case.id));
        let data = &event["data"];
        assert_eq!(event["name"], name, "{}: {event}", case.id);
        assert_eq!(data["run_id"], json!(run.run_id), "{}: {event}", case.id);
        assert_eq!(
            data["function_id"],
            json!(run.function_id),
            "{}: {event}",
            case.id
        );
        assert_eq!(data["_inngest"]["status"], status, "{}: {event}", case.id);
        assert_eq!(data["event"]["user"], json!({}), "{}: {event}", case.id);
        if run.status == RunStatus::Cancelled {
            assert!(
                data.get("error").is_none() && data.get("result").is_none(),
                "{}: {event}",
                case.id
            );
        } else {
            // The standard error: `error` says why the last attempt failed.
            for key in ["error", "name", "message"] {
                assert!(
                    data["error"][key].is_string(),
                    "{}: {key} in {event}",
                    case.id
                );
            }
            if let Some(message) = run.output.as_ref().and_then(|o| o.get("message")) {
                assert_eq!(&data["error"]["message"], message, "{}: {event}", case.id);
            }
            assert_eq!(
                data.get("result"),
                run.output.as_ref(),
                "{}: {event}",
                case.id
            );
        }
    }

    macro_rules! cases {
        ($($name:ident),* $(,)?) => {
            $(
                #[tokio::test]
                async fn $name() {
                    play(golden::cases::$name()).await;
                }
            )*
        };
    }

    cases!(
        runner_basic_invoke,
        runner_steps_serial,
        runner_retry_basic,
        runner_cancel_basic,
        runner_wait_for_event_basic,
        sdk_functions,
        sdk_steps,
        sdk_retry,
        sdk_no_retry,
        sdk_cancel_not_received,
        sdk_cancel_received,
        sdk_cancel_via_api,
        sdk_wait_for_event_with_event,
        sdk_wait_for_event_no_event,
        golang_step_errors,
        golang_step_error_called_once,
        golang_retry,
        golang_max_retries,
        golang_invoke,
        golang_invoke_timeout,
        golang_parallel_coalesce,
        golang_parallel_failures_on_failure,
        golang_not_sdk_200,
        golang_not_sdk_206,
    );

    /// Every case in `golden::cases::all` has a test above.
    #[test]
    fn every_case_is_played() {
        let source = include_str!("inngest_cases.rs");
        for case in golden::cases::all() {
            let name = case.id.replace(['/', '-'], "_");
            assert!(
                source.contains(&format!("        {name},")),
                "{} is not played",
                case.id
            );
        }
    }
}

mod sdk_side {
    //! The fixture functions (`tests/conformance/golang/main.go` and `tests/js/src/inngest/`),
    //! written with `inngest-runtime`.

    use std::marker::PhantomData;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use inngest_runtime::config::Config;
    use inngest_runtime::serve::ServeHandler;
    use inngest_runtime::step::WaitForEvent;
    use inngest_runtime::{App, Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions};
    use serde::{Deserialize, Serialize};
    use serde_json::Map;

    use super::*;

    macro_rules! event {
        ($ty:ident, $name:literal) => {
            #[derive(Debug, Serialize, Deserialize, garde::Validate)]
            struct $ty {
                #[serde(flatten)]
                #[garde(skip)]
                data: Map<String, Value>,
            }
            impl Event for $ty {
                const NAME: &'static str = $name;
            }
        };
    }

    event!(FunctionTest, "tests/function.test");
    event!(StepTest, "tests/step.test");
    event!(RetryTest, "tests/retry.test");
    event!(NoRetryTest, "tests/no-retry.test");
    event!(CancelTest, "tests/cancel.test");
    event!(WaitTest, "tests/wait.test");
    event!(Resume, "test/resume");

    fn ok_body(name: &str) -> Value {
        json!({ "name": name, "body": "ok" })
    }

    /// What tells the two fixtures apart: the function ids' prefix, the ids of the sleep and
    /// the wait, and the retry fixture's counters (per process, as upstream's).
    trait Fixture: Send + Sync + 'static {
        const PREFIX: &'static str;
        const SLEEP: &'static str;
        const WAIT: &'static str;
        fn counters() -> (&'static AtomicUsize, &'static AtomicUsize);
    }

    /// `tests/js/src/inngest/` (app `test-suite`).
    struct Js;
    impl Fixture for Js {
        const PREFIX: &'static str = "";
        const SLEEP: &'static str = "for 2s";
        const WAIT: &'static str = "test/resume";
        fn counters() -> (&'static AtomicUsize, &'static AtomicUsize) {
            static STEP: AtomicUsize = AtomicUsize::new(0);
            static FUNCTION: AtomicUsize = AtomicUsize::new(0);
            (&STEP, &FUNCTION)
        }
    }

    /// `tests/conformance/golang/main.go` (app `conformance-golang`).
    struct Go;
    impl Fixture for Go {
        const PREFIX: &'static str = "test-suite-";
        const SLEEP: &'static str = "sleep";
        const WAIT: &'static str = "wait";
        fn counters() -> (&'static AtomicUsize, &'static AtomicUsize) {
            static STEP: AtomicUsize = AtomicUsize::new(0);
            static FUNCTION: AtomicUsize = AtomicUsize::new(0);
            (&STEP, &FUNCTION)
        }
    }

    fn id<F: Fixture>(name: &str) -> WorkflowOptions {
        WorkflowOptions::new(format!("{}{name}", F::PREFIX))
    }

    /// `simple-fn`: returns `{name, body: "ok"}`.
    struct SimpleFn<F>(PhantomData<F>);
    impl<F: Fixture> Workflow for SimpleFn<F> {
        type Event = FunctionTest;
        type Output = Value;
        fn options() -> WorkflowOptions {
            id::<F>("simple-fn")
        }
        async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
            Ok(ok_body(&ctx.event.name))
        }
    }

    /// `step-test`: a step, a 2 s sleep, a step.
    struct StepFn<F>(PhantomData<F>);
    impl<F: Fixture> Workflow for StepFn<F> {
        type Event = StepTest;
        type Output = Value;
        fn options() -> WorkflowOptions {
            id::<F>("step-test")
        }
        async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
            let first: String = ctx
                .step
                .run("first step", || async { Ok("first step".to_string()) })
                .await?;
            ctx.step.sleep(F::SLEEP, "2s").await?;
            let _: Value = ctx
                .step
                .run("second step", move || async move {
                    Ok(json!({ "first": first, "second": true }))
                })
                .await?;
            Ok(ok_body(&ctx.event.name))
        }
    }

    /// `retry-test`: the step fails on its first run, the function on its first run after it.
    struct RetryFn<F>(PhantomData<F>);
    impl<F: Fixture> Workflow for RetryFn<F> {
        type Event = RetryTest;
        type Output = Value;
        fn options() -> WorkflowOptions {
            id::<F>("retry-test")
        }
        async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
            let (step_runs, fn_runs) = F::counters();
            let _: String = ctx
                .step
                .run("first step", move || async move {
                    let n = step_runs.fetch_add(1, Ordering::SeqCst) + 1;
                    if n == 1 {
                        Err(WorkflowError::new("broken"))
                    } else {
                        Ok(format!("yes: {n}"))
                    }
                })
                .await?;
            if fn_runs.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(WorkflowError::new("broken func"));
            }
            Ok(ok_body(&ctx.event.name))
        }
    }

    /// `no-retry`: a step that fails for good, caught.
    struct NoRetryFn;
    impl Workflow for NoRetryFn {
        type Event = NoRetryTest;
        type Output = Value;
        fn options() -> WorkflowOptions {
            WorkflowOptions::new("no-retry")
        }
        async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
            let _ = ctx
                .step
                .run("first step", || async {
                    Err::<(), _>(WorkflowError::non_retriable("no retry plz"))
                })
                .await;
            Ok(json!("ok"))
        }
    }

    /// `cancel-test`: a 10 s sleep, then a step.
    struct CancelFn<F>(PhantomData<F>);
    impl<F: Fixture> Workflow for CancelFn<F> {
        type Event = CancelTest;
        type Output = Value;
        fn options() -> WorkflowOptions {
            id::<F>("cancel-test")
        }
        async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
            ctx.step.sleep("sleep", "10s").await?;
            let _: String = ctx
                .step
                .run("After the sleep", || async {
                    Ok("This should be cancelled if a matching cancel event is received".into())
                })
                .await?;
            Ok(ok_body(&ctx.event.name))
        }
    }

    /// `wait-for-event`: waits 10 s for `test/resume`.
    struct WaitFn<F>(PhantomData<F>);
    impl<F: Fixture> Workflow for WaitFn<F> {
        type Event = WaitTest;
        type Output = Value;
        fn options() -> WorkflowOptions {
            id::<F>("wait-for-event")
        }
        async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
            let wait = WaitForEvent::timeout("10s")
                .when("async.data.resume == true && async.data.id == event.data.id");
            let resumed = ctx.step.wait_for_event::<Resume>(F::WAIT, wait).await?;
            Ok(match resumed {
                Some(e) => json!({ "result": e.data.data }),
                None => json!({}),
            })
        }
    }

    fn fixture_app<F: Fixture>(app_id: &str) -> inngest_runtime::app::AppBuilder {
        App::builder(Inngest::with_config(
            app_id,
            Config::dev("http://127.0.0.1:9"),
        ))
        .register(SimpleFn::<F>(PhantomData))
        .register(StepFn::<F>(PhantomData))
        .register(RetryFn::<F>(PhantomData))
        .register(CancelFn::<F>(PhantomData))
        .register(WaitFn::<F>(PhantomData))
    }

    /// Sends every request of `case` to `app` and compares its answers with the case's.
    async fn answer_all(case: Case, app: App) {
        let handler = ServeHandler::new(app).framework("test");
        let mut version = -1;
        for (i, step) in case.script.iter().enumerate() {
            let at = format!("{} (step {})", case.id, i + 1);
            let exchanges: Vec<&Exchange> = match step {
                Step::Exchange(x) => vec![x.as_ref()],
                Step::Group(xs) => xs.iter().collect(),
                _ => continue,
            };
            for x in exchanges {
                let e = &x.expect;
                let mut event = e.event.clone();
                event["id"] = json!("01JCONFORMANCEEVENT000001");
                event["ts"] = json!(1_767_225_600_000i64);
                let body = json!({
                    "event": event, "events": [event], "steps": e.steps,
                    "ctx": { "run_id": "01JCONFORMANCERUN00000001", "step_id": "step",
                             "attempt": e.attempt, "max_attempts": 5,
                             "disable_immediate_execution": e.disable_immediate_execution,
                             "use_api": false,
                             "stack": { "stack": e.stack, "current": e.current } },
                    "version": version, "use_api": false,
                });
                let uri = format!(
                    "/api/inngest?fnId={}-{}&stepId={}",
                    case.app, e.function, e.step_id
                );
                let req = axum::http::Request::builder()
                    .method("POST")
                    .uri(uri)
                    .header("content-type", "application/json")
                    .header("x-inngest-server-kind", "dev")
                    .body(axum::body::Bytes::from(body.to_string()))
                    .expect("a request");
                let resp = handler.handle(req).await;
                if resp.status().as_u16() == 206 {
                    version = 2;
                }
                let answer: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
                let header = |h: &axum::http::HeaderMap| {
                    h.get("x-inngest-no-retry").and_then(|v| v.to_str().ok()) == Some("true")
                };
                let ours = answer_view(resp.status().as_u16(), header(resp.headers()), &answer);
                let theirs =
                    answer_view(x.answer.status, x.answer.no_retry_set(), &x.answer.json());
                assert!(
                    ours == theirs,
                    "{at}: our runtime answers differently from the fixture\n  ours:     {ours}\n  expected: {theirs}"
                );
            }
        }
    }

    #[tokio::test]
    async fn the_go_fixtures_cases() {
        for case in [
            golden::cases::runner_basic_invoke(),
            golden::cases::runner_steps_serial(),
            golden::cases::runner_retry_basic(),
            golden::cases::runner_cancel_basic(),
            golden::cases::runner_wait_for_event_basic(),
        ] {
            let app = fixture_app::<Go>("conformance-golang")
                .build()
                .expect("the app builds");
            answer_all(case, app).await;
        }
    }

    #[tokio::test]
    async fn the_js_fixtures_cases() {
        for case in [
            golden::cases::sdk_functions(),
            golden::cases::sdk_steps(),
            golden::cases::sdk_retry(),
            golden::cases::sdk_no_retry(),
            golden::cases::sdk_cancel_not_received(),
            golden::cases::sdk_cancel_received(),
            golden::cases::sdk_cancel_via_api(),
            golden::cases::sdk_wait_for_event_with_event(),
            golden::cases::sdk_wait_for_event_no_event(),
        ] {
            let app = fixture_app::<Js>("test-suite")
                .register(NoRetryFn)
                .build()
                .expect("the app builds");
            answer_all(case, app).await;
        }
    }
}
