//! The serve handler end to end in process: execution requests in, HTTP answers out. The event
//! API these workflows send to is a real local HTTP server (axum on a free port) that records
//! what reaches it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use http::{Request, StatusCode};
use inngest_runtime::config::Config;
use inngest_runtime::error::{RegistrationError, SendError};
use inngest_runtime::serve::ServeHandler;
use inngest_runtime::step_id::hash;
use inngest_runtime::{
    App, Context, ErrorKind, Event, Inngest, Trigger, Workflow, WorkflowError, WorkflowOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::register_api;

mod support;

#[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]
struct OrderPlaced {
    #[garde(length(min = 1))]
    order_id: String,
    #[garde(email)]
    email: String,
}
impl Event for OrderPlaced {
    const NAME: &'static str = "shop/order.placed";
}

fn order() -> OrderPlaced {
    OrderPlaced {
        order_id: "o_1".into(),
        email: "ada@example.com".into(),
    }
}

/// Catches a failed charge and returns a fallback instead of failing the run.
struct CatchingCharge;
impl Workflow for CatchingCharge {
    type Event = OrderPlaced;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("catching-charge")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let charged = ctx.step.run("charge-card", || async { Ok(true) }).await;
        match charged {
            Ok(_) => Ok(json!({ "charged": true })),
            Err(e) if e.kind() == &ErrorKind::StepFailed => {
                Ok(json!({ "charged": false, "reason": e.message() }))
            }
            Err(e) => Err(e),
        }
    }
}

/// Lets a failed charge fail the run.
struct Charge;
impl Workflow for Charge {
    type Event = OrderPlaced;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("charge")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        ctx.step.run("charge-card", || async { Ok(true) }).await?;
        Ok(json!({ "charged": true }))
    }
}

/// Fails in the way the event's order id names.
struct Failing;
impl Workflow for Failing {
    type Event = OrderPlaced;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("failing")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        Err(match ctx.event.data.order_id.as_str() {
            "plain" => WorkflowError::new("boom"),
            "final" => WorkflowError::non_retriable("bad order"),
            "later" => WorkflowError::retry_after("busy", Duration::from_millis(1500)),
            "at" => WorkflowError::retry_at("closed", new_year()),
            "io" => std::io::Error::other("disk on fire").into(),
            other => WorkflowError::new(format!("unexpected {other}")),
        })
    }
}

fn new_year() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5)
        .single()
        .expect("a valid date")
}

/// Sleeps until a fixed instant.
struct SleepUntil;
impl Workflow for SleepUntil {
    type Event = OrderPlaced;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("sleep-until")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        ctx.step.sleep_until("until-new-year", new_year()).await?;
        Ok(json!("woke"))
    }
}

/// Sends two receipts, valid or not depending on the triggering order.
struct SendReceipts;
impl Workflow for SendReceipts {
    type Event = OrderPlaced;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("send-receipts")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let mut second = order();
        if ctx.event.data.order_id == "invalid" {
            second.email = "not an address".into();
        }
        let ids = ctx
            .step
            .send_events("send-receipts", vec![order(), second])
            .await?;
        Ok(json!({ "ids": ids }))
    }
}

/// A stand-in event API on a free port: records every POSTed body, answers as Inngest does.
struct EventApi {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EventApi {
    async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let seen = received.clone();
        let router = axum::Router::new().route(
            "/e/{key}",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    let n = body.as_array().map_or(1, Vec::len);
                    seen.lock().expect("not poisoned").push(body);
                    let ids: Vec<String> = (0..n).map(|i| format!("evt-{i}")).collect();
                    axum::Json(json!({ "ids": ids, "status": 200 }))
                }
            }),
        );
        let (addr, task) = support::serve(router).await;
        Self {
            url: format!("http://{addr}"),
            received,
            task,
        }
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().expect("not poisoned").clone()
    }
}

impl Drop for EventApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn handler_for(api: &str) -> ServeHandler {
    let client = Inngest::with_config("shop", Config::dev(api));
    let app = App::builder(client)
        .register(CatchingCharge)
        .register(Charge)
        .register(Failing)
        .register(SleepUntil)
        .register(SendReceipts)
        .build()
        .expect("a valid app");
    ServeHandler::new(app)
}

fn request(order_id: &str, steps: Value, attempt: u32) -> Value {
    let event = json!({
        "name": OrderPlaced::NAME,
        "data": { "order_id": order_id, "email": "ada@example.com" },
        "id": "01EVT", "ts": 1767225600000u64,
    });
    let stack: Vec<String> = steps
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    json!({
        "event": event, "events": [event], "steps": steps,
        "ctx": { "run_id": "01RUN", "attempt": attempt, "max_attempts": 4,
                 "disable_immediate_execution": false, "use_api": false,
                 "stack": { "stack": stack, "current": stack.len() } },
        "version": 2, "use_api": false,
    })
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn call(handler: &ServeHandler, function: &str, body: &Value) -> Answer {
    let req = Request::post(format!("/api/inngest?fnId=shop-{function}&stepId=step"))
        .header("content-type", "application/json")
        .body(Bytes::from(serde_json::to_vec(body).expect("json")))
        .expect("a request");
    let resp = handler.handle(req).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = serde_json::from_slice(resp.body()).expect("a JSON answer");
    Answer {
        status,
        headers,
        body,
    }
}

fn failed_charge() -> Value {
    json!({ hash("charge-card"): { "error": { "name": "Error", "message": "card declined" } } })
}

#[tokio::test]
async fn a_handler_can_catch_a_failed_step() {
    let api = EventApi::start().await;
    let h = handler_for(&api.url);
    let a = call(&h, "catching-charge", &request("o_1", failed_charge(), 0)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body,
        json!({ "charged": false, "reason": "card declined" })
    );
}

#[tokio::test]
async fn an_uncaught_failed_step_fails_the_run_for_good() {
    let api = EventApi::start().await;
    let h = handler_for(&api.url);
    let a = call(&h, "charge", &request("o_1", failed_charge(), 0)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.header("x-inngest-no-retry"), Some("true"));
    assert_eq!(a.body["message"], "card declined");
}

#[tokio::test]
async fn errors_serialize_with_their_retry_semantics() {
    let api = EventApi::start().await;
    let h = handler_for(&api.url);

    let a = call(&h, "failing", &request("plain", json!({}), 0)).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(a.header("retry-after"), None);
    assert_eq!(
        a.body,
        json!({ "name": "Error", "message": "boom", "__serialized": true })
    );

    // The same error on the last of 4 attempts is final.
    let a = call(&h, "failing", &request("plain", json!({}), 3)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.header("x-inngest-no-retry"), Some("true"));

    let a = call(&h, "failing", &request("final", json!({}), 0)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.header("x-inngest-no-retry"), Some("true"));
    assert_eq!(a.body["name"], "NonRetriableError");
    assert_eq!(a.body["message"], "bad order");

    // Whole seconds, rounded up, as the header's integer form requires.
    let a = call(&h, "failing", &request("later", json!({}), 0)).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.header("retry-after"), Some("2"));
    assert_eq!(a.body["name"], "RetryAfterError");

    let a = call(&h, "failing", &request("at", json!({}), 0)).await;
    assert_eq!(a.header("retry-after"), Some("2030-01-02T03:04:05.000Z"));

    // No retry-after once the error is final.
    let a = call(&h, "failing", &request("later", json!({}), 3)).await;
    assert_eq!(a.header("retry-after"), None);

    let a = call(&h, "failing", &request("io", json!({}), 0)).await;
    assert_eq!(a.body["name"], "Error");
    assert_eq!(a.body["message"], "disk on fire");
}

#[test]
fn an_error_keeps_its_chain_of_causes_as_its_stack() {
    #[derive(Debug, thiserror::Error)]
    #[error("charging failed")]
    struct Outer(#[source] std::io::Error);
    let e: WorkflowError = Outer(std::io::Error::other("socket closed")).into();
    assert_eq!(e.kind(), &ErrorKind::Retriable);
    let wire = serde_json::to_value(e.serialized()).expect("json");
    assert_eq!(
        wire,
        json!({ "name": "Error", "message": "charging failed",
                "stack": "caused by: socket closed", "__serialized": true })
    );
}

#[tokio::test]
async fn sleep_until_reports_the_instant_and_resumes_from_the_memo() {
    let api = EventApi::start().await;
    let h = handler_for(&api.url);
    let a = call(&h, "sleep-until", &request("o_1", json!({}), 0)).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    let op = &a.body[0];
    assert_eq!(op["op"], "Sleep");
    assert_eq!(op["id"], hash("until-new-year"));
    assert_eq!(op["name"], "2030-01-02T03:04:05.000Z");
    assert_eq!(op["displayName"], "until-new-year");

    let steps = json!({ hash("until-new-year"): null });
    let a = call(&h, "sleep-until", &request("o_1", steps, 0)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, json!("woke"));
}

#[tokio::test]
async fn send_events_sends_every_event_in_one_request_as_a_step() {
    let api = EventApi::start().await;
    let h = handler_for(&api.url);
    let a = call(&h, "send-receipts", &request("o_1", json!({}), 0)).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    let op = &a.body[0];
    assert_eq!(op["op"], "StepRun");
    assert_eq!(op["name"], "sendEvent");
    assert_eq!(op["opts"]["type"], "step.sendEvent");
    assert_eq!(op["data"], json!({ "ids": ["evt-0", "evt-1"] }));
    let received = api.received();
    assert_eq!(received.len(), 1);
    let sent = received[0].as_array().expect("an array of events");
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|e| e["name"] == OrderPlaced::NAME));

    // Replayed, the step returns the memoized ids and sends nothing more.
    let steps = json!({ hash("send-receipts"): { "data": { "ids": ["evt-0", "evt-1"] } } });
    let a = call(&h, "send-receipts", &request("o_1", steps, 0)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, json!({ "ids": ["evt-0", "evt-1"] }));
    assert_eq!(api.received().len(), 1);
}

#[tokio::test]
async fn an_invalid_event_fails_the_send_step_for_good_and_sends_nothing() {
    let api = EventApi::start().await;
    let h = handler_for(&api.url);
    let a = call(&h, "send-receipts", &request("invalid", json!({}), 0)).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(a.body[0]["op"], "StepFailed");
    let message = a.body[0]["error"]["message"].as_str().expect("a message");
    assert!(message.contains("shop/order.placed"), "{message}");
    assert!(message.contains("email"), "{message}");
    assert_eq!(a.header("x-inngest-no-retry"), Some("true"));
    assert!(api.received().is_empty());
}

#[tokio::test]
async fn the_client_validates_before_sending_anything() {
    let api = EventApi::start().await;
    let client = Inngest::with_config("shop", Config::dev(&api.url));
    let mut bad = order();
    bad.order_id = String::new();
    let err = client
        .send_many(&[order(), bad])
        .await
        .expect_err("an invalid payload");
    assert!(matches!(err, SendError::Invalid { ref name, .. } if name == OrderPlaced::NAME));
    assert!(api.received().is_empty());

    let id = client.send(order()).await.expect("sent");
    assert_eq!(id, "evt-0");
    let received = api.received();
    assert_eq!(received.len(), 1);
    let first = received[0].as_array().map_or(&received[0], |a| &a[0]);
    assert_eq!(first["name"], OrderPlaced::NAME);
    assert_eq!(first["data"]["order_id"], "o_1");
}

struct Nightly;
impl Workflow for Nightly {
    type Event = inngest_runtime::event::ScheduledTimer;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("nightly")
    }
    fn triggers() -> Vec<Trigger> {
        vec![Trigger::cron("TZ=Mars/Olympus 0 3 * * *")]
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<(), WorkflowError> {
        Ok(())
    }
}

struct BadCron;
impl Workflow for BadCron {
    type Event = inngest_runtime::event::ScheduledTimer;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("bad-cron")
    }
    fn triggers() -> Vec<Trigger> {
        vec![Trigger::cron("61 * * * *")]
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<(), WorkflowError> {
        Ok(())
    }
}

struct BadId;
impl Workflow for BadId {
    type Event = OrderPlaced;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("no spaces")
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<(), WorkflowError> {
        Ok(())
    }
}

#[test]
fn registration_refuses_what_inngest_would_refuse() {
    let client = || Inngest::with_config("shop", Config::dev("http://127.0.0.1:9"));
    let dup = App::builder(client())
        .register(Charge)
        .register(Charge)
        .build();
    assert!(matches!(dup, Err(RegistrationError::DuplicateId(ref id)) if id == "shop-charge"));

    let bad = App::builder(client()).register(BadId).build();
    assert!(matches!(bad, Err(RegistrationError::InvalidId(ref id)) if id == "no spaces"));

    let cron = App::builder(client()).register(BadCron).build();
    let err = cron.err().expect("a bad cron is refused");
    assert!(matches!(err, RegistrationError::Cron { ref id, .. } if id == "bad-cron"));
    assert!(err.to_string().contains("bad-cron"), "{err}");

    let zone = App::builder(client()).register(Nightly).build();
    assert!(matches!(zone, Err(RegistrationError::Cron { .. })));

    let empty = App::builder(Inngest::with_config("", Config::dev("http://127.0.0.1:9"))).build();
    assert!(empty.is_err());

    let keyless = App::builder(client()).register(EnvLimitWithoutKey).build();
    let err = keyless
        .err()
        .expect("an env limit without a key is refused");
    assert!(err.to_string().contains("env-limited"), "{err}");
    assert!(
        matches!(err, RegistrationError::Options { ref reason, .. } if reason.contains("needs a key"))
    );
}

/// An env-scoped concurrency limit without a key, which Inngest refuses.
struct EnvLimitWithoutKey;
impl Workflow for EnvLimitWithoutKey {
    type Event = OrderPlaced;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("env-limited").concurrency(
            inngest_runtime::Concurrency::new(2)
                .scope(inngest_runtime::options::ConcurrencyScope::Env),
        )
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<Value, WorkflowError> {
        Ok(Value::Null)
    }
}

/// Logs a failed charge; nothing else marks it as having a failure handler.
struct ChargeWithFailureHandler;
impl Workflow for ChargeWithFailureHandler {
    type Event = OrderPlaced;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("charge")
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<Value, WorkflowError> {
        Err(WorkflowError::non_retriable("card declined"))
    }
    async fn on_failure(
        &self,
        ctx: inngest_runtime::FailureContext<Self>,
    ) -> Result<(), WorkflowError> {
        FAILURES.lock().expect("not poisoned").push(json!({
            "failed_run": ctx.failed_run_id,
            "function_id": ctx.function_id,
            "error": ctx.error,
            "typed_email": ctx.event.as_ref().map(|e| e.data.email.clone()),
            "raw": ctx.raw_event,
            "attempt": ctx.attempt,
            "run_id": ctx.run_id,
        }));
        Ok(())
    }
}

/// What `ChargeWithFailureHandler::on_failure` was given, one entry per call.
static FAILURES: Mutex<Vec<Value>> = Mutex::new(Vec::new());

fn failures_of(failed_run: &str) -> Vec<Value> {
    FAILURES
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|f| f["failed_run"] == failed_run)
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_implemented_failure_handler_is_registered_and_runs_without_a_flag() {
    let app = App::builder(Inngest::with_config(
        "shop",
        Config::dev("http://127.0.0.1:9"),
    ))
    .register(ChargeWithFailureHandler)
    .register(CatchingCharge)
    .build()
    .expect("the app builds");
    assert_eq!(
        app.function_ids(),
        ["shop-charge", "shop-charge-failure", "shop-catching-charge"],
        "only the workflow that implements on_failure gets a failure function"
    );
    let configs = app.function_configs("http://127.0.0.1:3000/api/inngest", "http");
    let failure = serde_json::to_value(&configs[1]).expect("a config serializes");
    assert_eq!(failure["triggers"][0]["event"], "inngest/function.failed");
    assert_eq!(
        failure["triggers"][0]["expression"],
        "event.data.function_id == 'shop-charge'"
    );

    // The failure function runs the handler.
    let handler = ServeHandler::new(app);
    let failed = json!({
        "name": "inngest/function.failed",
        "data": {
            "function_id": "shop-charge",
            "run_id": "01JFAILEDRUN",
            "error": { "name": "NonRetriableError", "message": "card declined" },
            "event": { "name": OrderPlaced::NAME, "data": order(), "id": "01JEVT", "ts": 1 },
        },
        "id": "01JFAILEVT",
        "ts": 2,
    });
    let mut body = request("o_1", json!({}), 0);
    body["event"] = failed.clone();
    body["events"] = json!([failed]);
    let answer = call(&handler, "charge-failure", &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body, Value::Null, "a failure handler returns ()");
    let seen = failures_of("01JFAILEDRUN");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["function_id"], "shop-charge");
    assert_eq!(seen[0]["error"]["name"], "NonRetriableError");
    assert_eq!(seen[0]["error"]["message"], "card declined");
    assert_eq!(seen[0]["typed_email"], "ada@example.com");
    assert_eq!(seen[0]["raw"]["id"], "01JEVT");
    assert_eq!(seen[0]["attempt"], 0);
}

/// The failure handler runs even when the failed run's event does not decode (here: an e-mail
/// that does not validate, which is what failed the run), and when the error is not an object.
#[tokio::test]
async fn the_failure_handler_runs_for_an_event_that_does_not_decode() {
    let app = App::builder(Inngest::with_config(
        "shop",
        Config::dev("http://127.0.0.1:9"),
    ))
    .register(ChargeWithFailureHandler)
    .build()
    .expect("the app builds");
    let handler = ServeHandler::new(app);

    // The run itself fails on its event.
    let mut body = request("o_1", json!({}), 0);
    body["event"]["data"]["email"] = json!("not-an-email");
    body["events"] = json!([body["event"].clone()]);
    let answer = call(&handler, "charge", &body).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{:?}", answer.body);
    let run_error = answer.body.clone();
    assert_eq!(run_error["name"], "NonRetriableError");

    // The failure handler gets that error and the raw event, and no typed one.
    for (failed_run, error) in [
        ("01JUNDECODABLE", run_error.clone()),
        ("01JSTRINGERROR", json!("plain text")),
    ] {
        let failed = json!({
            "name": "inngest/function.failed",
            "data": {
                "function_id": "shop-charge",
                "run_id": failed_run,
                "error": error,
                "event": body["event"].clone(),
            },
            "id": format!("{failed_run}-EVT"),
            "ts": 2,
        });
        let mut req = request("o_1", json!({}), 0);
        req["event"] = failed.clone();
        req["events"] = json!([failed]);
        let answer = call(&handler, "charge-failure", &req).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        let seen = failures_of(failed_run);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0]["typed_email"], Value::Null);
        assert_eq!(seen[0]["raw"]["data"]["email"], "not-an-email");
        if error.is_object() {
            assert_eq!(seen[0]["error"]["name"], "NonRetriableError");
            assert_eq!(seen[0]["error"]["message"], run_error["message"]);
        } else {
            assert_eq!(seen[0]["error"]["name"], "Error");
            assert_eq!(seen[0]["error"]["message"], "plain text");
        }
    }
}

/// Sends raw body bytes (which a `Value` could not carry: escaped keys, duplicates, deep nesting).
async fn call_raw(handler: &ServeHandler, function: &str, body: String) -> (StatusCode, Value) {
    let req = Request::post(format!("/api/inngest?fnId=shop-{function}&stepId=step"))
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .expect("a request");
    let resp = handler.handle(req).await;
    let status = resp.status();
    let body = serde_json::from_slice(resp.body())
        .unwrap_or_else(|e| panic!("{status}: the answer is not JSON ({e})"));
    (status, body)
}

/// A request body with `steps` and `event` data spliced in as raw text.
fn raw_request(steps: &str, data: &str) -> String {
    let event = format!(
        r#"{{"name":"{}","data":{data},"id":"01EVT","ts":1}}"#,
        OrderPlaced::NAME
    );
    format!(
        r#"{{"event":{event},"events":[{event}],"steps":{steps},"ctx":{{"run_id":"01RUN","attempt":0,"max_attempts":4}},"version":2}}"#
    )
}

#[tokio::test]
async fn hostile_request_bodies_get_an_answer_never_a_panic() {
    let handler = handler_for("http://127.0.0.1:9");
    let data = r#"{"order_id":"o_1","email":"ada@example.com"}"#;
    let charge = hash("charge-card");

    // A memo key written with an escape is the same key.
    let steps = format!(r#"{{"{charge}":{{"d\u0061ta":true}}}}"#);
    let (status, body) = call_raw(&handler, "charge", raw_request(&steps, data)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "charged": true })));

    // A memo of the wrong type fails the run for good, with a message.
    let steps = format!(r#"{{"{charge}":{{"data":"not a bool"}}}}"#);
    let (status, body) = call_raw(&handler, "charge", raw_request(&steps, data)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("charge-card")),
        "{body}"
    );

    // 20,000 unknown steps and a duplicated key: read in linear time, the known step replays.
    let mut steps = String::from("{");
    for i in 0..20_000 {
        steps.push_str(&format!(r#""{:040x}":{{"data":{i}}},"#, i));
    }
    steps.push_str(&format!(
        r#""{charge}":{{"data":false}},"{charge}":{{"data":true}}}}"#
    ));
    let (status, body) = call_raw(&handler, "charge", raw_request(&steps, data)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "charged": true })));

    // Event data nested past the JSON parser's depth limit, data of the wrong shape, steps
    // that are not an object: each is refused with a JSON message.
    let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    for (steps, data) in [
        ("{}", deep.as_str()),
        ("{}", r#""a string""#),
        ("[1,2]", data),
    ] {
        let (status, body) = call_raw(&handler, "charge", raw_request(steps, data)).await;
        assert!(
            status.is_client_error() || status.is_server_error(),
            "{status} {body}"
        );
        assert!(body["message"].is_string(), "{body}");
    }
}

const SIGNING_KEY: &str = "signkey-test-12345678";

fn cloud_handler(api: &str, serve_origin: Option<&str>) -> ServeHandler {
    let mut vars = vec![
        ("INNGEST_SIGNING_KEY", SIGNING_KEY.to_string()),
        ("INNGEST_API_BASE_URL", api.to_string()),
    ];
    if let Some(o) = serve_origin {
        vars.push(("INNGEST_SERVE_ORIGIN", o.to_string()));
    }
    let client = Inngest::with_config("shop", Config::from_vars(vars));
    let app = App::builder(client)
        .register(Charge)
        .build()
        .expect("a valid app");
    ServeHandler::new(app)
}

async fn put(handler: &ServeHandler, headers: &[(&str, String)]) -> StatusCode {
    let mut req = Request::put("/api/inngest");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = handler
        .handle(req.body(Bytes::new()).expect("a request"))
        .await;
    resp.status()
}

/// In cloud mode no out-of-band sync can point Inngest at a host of the caller's choosing: the
/// URL is `INNGEST_SERVE_ORIGIN`, and without it the sync is refused, signed or not (a
/// signature covers the body and its time, not the `Host`: a signed `GET` replayed as a `PUT`
/// would otherwise steer it).
#[tokio::test]
async fn an_out_of_band_sync_in_cloud_mode_cannot_steer_the_registered_url() {
    let (api, urls, task) = register_api().await;
    let evil = [
        ("host", "evil.example".to_string()),
        ("x-forwarded-host", "evil.example".to_string()),
        ("x-forwarded-proto", "https".to_string()),
    ];
    // A signature over an empty body, as a signed introspection `GET` carries.
    let now = Utc::now().timestamp();
    let mut replayed = evil.to_vec();
    replayed.push((
        "x-inngest-signature",
        inngest_runtime::signature::sign(SIGNING_KEY, b"", now),
    ));

    let unconfigured = cloud_handler(&api, None);
    assert_eq!(put(&unconfigured, &evil).await, StatusCode::BAD_REQUEST);
    assert_eq!(put(&unconfigured, &replayed).await, StatusCode::BAD_REQUEST);
    assert!(
        urls.lock().expect("not poisoned").is_empty(),
        "nothing registered"
    );

    let configured = cloud_handler(&api, Some("https://shop.example"));
    assert_eq!(put(&configured, &evil).await, StatusCode::OK);
    assert_eq!(put(&configured, &replayed).await, StatusCode::OK);

    assert_eq!(
        *urls.lock().expect("not poisoned"),
        [
            "https://shop.example/api/inngest",
            "https://shop.example/api/inngest"
        ]
    );
    task.abort();
}
