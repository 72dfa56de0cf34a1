//! Property tests: whatever arrives from outside, the runtime answers and does not panic.
//! Each test prints how many inputs it tried (`cargo test -- --nocapture` shows it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use http::Request;
use inngest_runtime::config::Config;
use inngest_runtime::cron::CronSchedule;
use inngest_runtime::serve::ServeHandler;
use inngest_runtime::step::WaitForEvent;
use inngest_runtime::{App, Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

const CASES: u32 = 600;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,8}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An execution request with every field present, each either plausible or anything at all.
fn request_body() -> impl Strategy<Value = Value> {
    let or_any = |plausible: Value| prop_oneof![3 => Just(plausible), 1 => any_json()];
    let event =
        json!({ "name": "shop/order.placed", "data": { "order_id": "o_1" }, "id": "01E", "ts": 1 });
    let hash = inngest_runtime::step_id::hash("work");
    (
        or_any(event.clone()),
        or_any(json!([event])),
        or_any(json!({ hash.clone(): { "data": 1 } })),
        or_any(json!("01RUN")),
        or_any(json!(0)),
        or_any(json!({ "stack": [hash], "current": 1 })),
        or_any(json!(2)),
        any_json(),
    )
        .prop_map(
            |(event, events, steps, run_id, attempt, stack, version, extra)| {
                json!({
                    "event": event, "events": events, "steps": steps, "version": version,
                    "ctx": { "run_id": run_id, "attempt": attempt, "stack": stack,
                             "disable_immediate_execution": false, "extra": extra },
                })
            },
        )
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct OrderPlaced {
    #[garde(length(min = 1))]
    order_id: String,
}
impl Event for OrderPlaced {
    const NAME: &'static str = "shop/order.placed";
}

/// A step, a sleep and a wait: every kind of memo a request can carry.
struct Work;
impl Workflow for Work {
    type Event = OrderPlaced;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("work")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let n: i64 = ctx.step.run("work", || async { Ok(1) }).await?;
        ctx.step.sleep("nap", "1h").await?;
        let paid = ctx
            .step
            .wait_for_event::<OrderPlaced>("paid", WaitForEvent::timeout("1h"))
            .await?;
        Ok(json!({ "n": n, "paid": paid.is_some() }))
    }
}

fn handler() -> ServeHandler {
    let app = App::builder(Inngest::with_config(
        "shop",
        Config::dev("http://127.0.0.1:9"),
    ))
    .register(Work)
    .build()
    .expect("the app builds");
    ServeHandler::new(app)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Sends `body` and checks the answer is JSON with a status an SDK gives.
fn answer(rt: &tokio::runtime::Runtime, handler: &ServeHandler, step: &str, body: Vec<u8>) {
    let req = Request::post(format!("/api/inngest?fnId=shop-work&stepId={step}"))
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .expect("a request");
    let resp = rt.block_on(handler.handle(req));
    let status = resp.status().as_u16();
    assert!(
        matches!(status, 200 | 206 | 400 | 413 | 500),
        "status {status}"
    );
    if !resp.body().is_empty() {
        let parsed: Result<Value, _> = serde_json::from_slice(resp.body());
        assert!(parsed.is_ok(), "a non-JSON answer: {:?}", resp.body());
    }
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static SIGNATURES: AtomicU64 = AtomicU64::new(0);
static DURATIONS: AtomicU64 = AtomicU64::new(0);
static CRONS: AtomicU64 = AtomicU64::new(0);

#[test]
fn execution_requests_of_any_shape_get_a_json_answer() {
    let (rt, h) = (runtime(), handler());
    proptest!(config(), |(body in request_body(), step in prop_oneof![Just("step".to_string()), "[0-9a-f]{40}", "\\PC{0,12}"])| {
        REQUESTS.fetch_add(1, Ordering::Relaxed);
        let step: String = form_urlencoded_free(&step);
        answer(&rt, &h, &step, serde_json::to_vec(&body).expect("json"));
    });
    println!(
        "execution requests: {} inputs tried",
        REQUESTS.load(Ordering::Relaxed)
    );
}

/// Keeps a query value to characters that need no escaping.
fn form_urlencoded_free(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

#[test]
fn bodies_of_any_bytes_get_a_json_answer() {
    let (rt, h) = (runtime(), handler());
    proptest!(config(), |(body in prop::collection::vec(any::<u8>(), 0..512))| {
        BYTES.fetch_add(1, Ordering::Relaxed);
        answer(&rt, &h, "step", body);
    });
    // Deep nesting: past the parser's limit, still an answer.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    answer(&rt, &h, "step", deep.into_bytes());
    println!(
        "raw bodies: {} inputs tried",
        BYTES.load(Ordering::Relaxed) + 1
    );
}

#[test]
fn signature_headers_of_any_kind_are_checked_without_a_panic() {
    let key = "signkey-test-12345678";
    proptest!(config(), |(header in "\\PC{0,80}", t in any::<i64>(), s in "[0-9a-f]{0,70}", now in any::<i64>())| {
        SIGNATURES.fetch_add(2, Ordering::Relaxed);
        let _ = inngest_runtime::signature::verify(Some(&header), b"{}", Some(key), Some(key), now);
        let structured = format!("t={t}&s={s}");
        let _ = inngest_runtime::signature::verify(Some(&structured), b"{}", Some(key), None, now);
    });
    println!(
        "signatures: {} inputs tried",
        SIGNATURES.load(Ordering::Relaxed)
    );
}

#[test]
fn durations_of_any_text_parse_or_say_why() {
    proptest!(config(), |(text in prop_oneof!["\\PC{0,24}", "[0-9.]{1,25}(ms|s|m|h|d|w|y|)"])| {
        DURATIONS.fetch_add(1, Ordering::Relaxed);
        if let Ok(d) = inngest_runtime::duration::parse(&text) {
            prop_assert!(d < Duration::from_secs(u64::MAX / 1_000_000_000 + 1));
        }
    });
    println!(
        "durations: {} inputs tried",
        DURATIONS.load(Ordering::Relaxed)
    );
}

#[test]
fn crons_of_any_text_parse_or_say_why_and_find_their_next_tick() {
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a date");
    let field = "(\\*|[0-9]{1,2}|[0-9]{1,2}-[0-9]{1,2}|\\*/[0-9]{1,2}|L|[A-Z]{3}|\\?)";
    let cron = format!("{field} {field} {field} {field} {field}");
    proptest!(config(), |(text in prop_oneof![Just("0 9 * * *".to_string()), "\\PC{0,30}", cron.as_str()])| {
        CRONS.fetch_add(1, Ordering::Relaxed);
        if let Ok(s) = CronSchedule::parse(&text) {
            let _ = s.next_after(start);
        }
    });
    println!("crons: {} inputs tried", CRONS.load(Ordering::Relaxed));
}
