//! Property tests: whatever an app or a client sends (sync payloads, function configs, CEL
//! expressions, events), the dev server answers and its engine stays up. Each test prints how
//! many inputs it tried (`cargo test -- --nocapture` shows it).

use std::sync::atomic::{AtomicU64, Ordering};

use inngest_devserver::{DevServer, DevServerConfig};
use inngest_runtime::protocol::sync::RegisterRequest;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const CASES: u32 = 400;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,8}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// CEL-ish text: the tokens SDKs and people write, in any order, and some noise.
fn expression() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("event.data.x".to_string()),
        Just("async.data.y".to_string()),
        Just(" == ".to_string()),
        Just(" && ".to_string()),
        Just(" || ".to_string()),
        Just("!".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("'s'".to_string()),
        Just("1".to_string()),
        Just("size(".to_string()),
        Just(" in ".to_string()),
        Just(".".to_string()),
        "\\PC{0,3}",
    ];
    let nested = (
        1..40usize,
        prop_oneof![Just(("(", ")")), Just(("[", "]")), Just(("size(", ")"))],
    )
        .prop_map(|(depth, (open, close))| {
            format!("{}1{}", open.repeat(depth), close.repeat(depth))
        });
    prop_oneof![
        3 => prop::collection::vec(token, 0..40).prop_map(|t| t.concat()),
        1 => nested,
    ]
}

/// A function config with its options either plausible or anything at all.
fn function_config() -> impl Strategy<Value = Value> {
    let or_any = |plausible: Value| prop_oneof![2 => Just(plausible), 1 => any_json()];
    (
        or_any(json!([{ "event": "a/b" }])),
        or_any(json!({ "limit": 1, "period": "1m" })),
        or_any(json!({ "limit": 2, "period": "1h", "key": "event.data.k" })),
        or_any(json!({ "period": "5m" })),
        or_any(json!({ "maxSize": 5, "timeout": "10s" })),
        or_any(json!(2)),
        or_any(json!([{ "event": "a/c", "if": "event.data.x == async.data.x" }])),
        or_any(json!({ "finish": "1h" })),
        expression(),
    )
        .prop_map(|(triggers, throttle, rate, debounce, batch, concurrency, cancel, timeouts, expr)| {
            let mut triggers = triggers;
            if let Some(first) = triggers.as_array_mut().and_then(|t| t.first_mut()) {
                if first.is_object() {
                    first["expression"] = json!(expr);
                }
            }
            json!({
                "id": "fuzz-f", "name": "f", "triggers": triggers,
                "throttle": throttle, "rateLimit": rate, "debounce": debounce,
                "batchEvents": batch, "concurrency": concurrency, "cancel": cancel,
                "timeouts": timeouts,
                "steps": { "step": { "id": "step", "name": "step",
                    "runtime": { "type": "http", "url": "http://127.0.0.1:9/api?fnId=fuzz-f" } } },
            })
        })
}

async fn server() -> DevServer {
    DevServer::start(DevServerConfig {
        port: 0,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The engine answers (it did not die on the last input).
async fn alive(server: &DevServer) {
    server.engine().apps().await.expect("the engine is up");
}

static SYNCS: AtomicU64 = AtomicU64::new(0);
static EVENTS: AtomicU64 = AtomicU64::new(0);

#[test]
fn sync_payloads_and_function_configs_of_any_shape_leave_the_engine_up() {
    let rt = runtime();
    let server = rt.block_on(server());
    proptest!(config(), |(function in function_config(), event in any_json())| {
        SYNCS.fetch_add(1, Ordering::Relaxed);
        rt.block_on(async {
            let sync = json!({ "url": "http://127.0.0.1:9/api", "appName": "fuzz",
                               "functions": [function] });
            if let Ok(sync) = serde_json::from_value::<RegisterRequest>(sync) {
                let _ = server.engine().register(sync).await;
            }
            // Whatever registered, an event of its name and one of any shape are evaluated
            // against its trigger expression, cancel conditions and keys.
            let _ = server.send(vec![json!({ "name": "a/b", "data": { "x": event.clone() } })]).await;
            let _ = server.send(vec![json!({ "name": "a/c", "data": { "x": 1 } })]).await;
            alive(&server).await;
        });
    });
    println!(
        "sync payloads: {} inputs tried",
        SYNCS.load(Ordering::Relaxed)
    );
    rt.block_on(server.stop());
}

#[test]
fn events_of_any_shape_are_taken_or_refused_and_the_engine_stays_up() {
    let rt = runtime();
    let server = rt.block_on(server());
    proptest!(config(), |(batch in prop::collection::vec(any_json(), 0..6), name in "\\PC{0,12}", data in any_json(), ts in any::<i64>())| {
        EVENTS.fetch_add(2, Ordering::Relaxed);
        rt.block_on(async {
            let _ = server.send(batch).await;
            let _ = server.send(vec![json!({ "name": name, "data": data, "ts": ts, "id": name })]).await;
            alive(&server).await;
        });
    });
    println!("events: {} inputs tried", EVENTS.load(Ordering::Relaxed));
    rt.block_on(server.stop());
}

static API_CALLS: AtomicU64 = AtomicU64::new(0);

/// What the new API endpoints answer to any body or query: a 2xx, or a 4xx whose body is JSON
/// with a message; never a 5xx, and the engine stays up.
async fn answers_sanely(resp: reqwest::Response, what: &str) {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("a body");
    assert!(status < 500, "{what}: {status}");
    if status >= 400 {
        let json: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("{what}: {status} with a body that is not JSON"));
        assert!(
            json.get("error").or_else(|| json.get("message")).is_some(),
            "{what}: {json}"
        );
    }
}

#[test]
fn flushed_replies_invokes_run_and_event_queries_of_any_shape_get_a_clear_answer() {
    use inngest_runtime::protocol::connect::{FlushResponse, SdkResponse};
    use prost::Message;
    let rt = runtime();
    let server = rt.block_on(server());
    let http = reqwest::Client::new();
    let base = server.url().to_string();
    // The clear cases first: each refused with its reason, or taken and ignored.
    rt.block_on(async {
        let post = |path: &str, body: Vec<u8>| http.post(format!("{base}{path}")).body(body).send();
        let garbage = post("/v0/connect/flush", b"\xff\xfe not protobuf".to_vec())
            .await
            .expect("answers");
        assert_eq!(garbage.status().as_u16(), 400);
        let nameless = post("/v0/connect/flush", SdkResponse::default().encode_to_vec())
            .await
            .expect("answers");
        assert_eq!(nameless.status().as_u16(), 400);
        let stray = SdkResponse {
            request_id: "01NOSUCHREQUEST".into(),
            ..Default::default()
        };
        let stray = post("/v0/connect/flush", stray.encode_to_vec())
            .await
            .expect("answers");
        assert_eq!(stray.status().as_u16(), 200, "taken and ignored");
        let answer = FlushResponse::decode(stray.bytes().await.expect("a body").as_ref())
            .expect("a FlushResponse");
        assert_eq!(answer.request_id, "01NOSUCHREQUEST");
        for (body, status) in [
            (&b"not json"[..], 400),
            (&b"{\"data\": [1]}"[..], 400),
            (&b"{}"[..], 404),
        ] {
            let resp = post("/v1/functions/no-such-fn/invoke", body.to_vec())
                .await
                .expect("answers");
            assert_eq!(
                resp.status().as_u16(),
                status,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for (query, status) in [
            ("status=Bogus", 400),
            ("limit=0", 400),
            ("limit=5000", 400),
            ("limit=x", 400),
            ("status=Running&limit=3", 200),
            ("from=yesterday", 400),
            ("to=2026-13-45T00:00:00Z", 400),
            (
                "from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00%2B01:00",
                200,
            ),
            ("before=%00%ff&limit=1", 200),
        ] {
            let resp = http
                .get(format!("{base}/v1/runs?{query}"))
                .send()
                .await
                .expect("answers");
            assert_eq!(resp.status().as_u16(), status, "{query}");
        }
    });
    // The dashboard's endpoints: an unknown run or event is a 404 with a message, a bad cursor
    // a 400.
    rt.block_on(async {
        for (method, path, status) in [
            ("POST", "/v1/runs/01NOSUCHRUN/rerun", 404),
            ("GET", "/v1/runs/01NOSUCHRUN/trace", 404),
            ("POST", "/v1/events/01NOSUCHEVENT/replay", 404),
            ("GET", "/v1/events?before=abc", 400),
            ("GET", "/v1/events?limit=0", 400),
            (
                "GET",
                "/v1/events?name=x&before=9223372036854775807&limit=2",
                200,
            ),
            ("GET", "/v1/syncs", 200),
        ] {
            let resp = http
                .request(method.parse().expect("a method"), format!("{base}{path}"))
                .send()
                .await
                .expect("answers");
            assert_eq!(resp.status().as_u16(), status, "{method} {path}");
            answers_sanely(resp, path).await;
        }
    });
    proptest!(config(), |(bytes in prop::collection::vec(any::<u8>(), 0..256), segment in "[A-Za-z0-9_.~-]{1,40}", query in "\\PC{0,40}")| {
        API_CALLS.fetch_add(7, Ordering::Relaxed);
        rt.block_on(async {
            let flush = http.post(format!("{base}/v0/connect/flush")).body(bytes.clone()).send().await.expect("answers");
            answers_sanely(flush, "flush").await;
            let invoke = http.post(format!("{base}/v1/functions/{segment}/invoke")).body(bytes.clone()).send().await.expect("answers");
            answers_sanely(invoke, "invoke").await;
            let mut url = reqwest::Url::parse(&format!("{base}/v1/runs")).expect("a URL");
            url.set_query(Some(&query));
            let runs = http.get(url).send().await.expect("answers");
            answers_sanely(runs, "runs").await;
            let mut url = reqwest::Url::parse(&format!("{base}/v1/events")).expect("a URL");
            url.set_query(Some(&query));
            let events = http.get(url).send().await.expect("answers");
            answers_sanely(events, "events").await;
            for path in [format!("/v1/runs/{segment}/rerun"), format!("/v1/events/{segment}/replay")] {
                let resp = http.post(format!("{base}{path}")).body(bytes.clone()).send().await.expect("answers");
                answers_sanely(resp, &path).await;
            }
            let trace = http.get(format!("{base}/v1/runs/{segment}/trace")).send().await.expect("answers");
            answers_sanely(trace, "trace").await;
            alive(&server).await;
        });
    });
    println!(
        "API calls: {} inputs tried",
        API_CALLS.load(Ordering::Relaxed)
    );
    rt.block_on(server.stop());
}
