//! Replays every recorded executor request of `shared/conformance/js/` (the official JS SDK's
//! answers, all scenarios but the checkpoint ones and connect) through our serve handler,
//! in process, and compares the answers in the protocol view of `replay.py`.
//!
//! The Inngest API the SDK calls while answering (sync, `step.sendEvent`) is a stand-in here,
//! answering as the corpus's `recorder.mjs` did: the real server cannot run on this machine.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::any;
use bytes::Bytes;
use inngest_runtime::config::Config;
use inngest_runtime::serve::ServeHandler;
use inngest_runtime::{Inngest, signature};
use serde_json::{Value, json};

const SIGNING_KEY: &str =
    "signkey-test-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The time `_cloud-signed` was recorded at (its signatures' `t`).
const RECORDED_AT: i64 = 1795740178;
/// Fields that name the SDK rather than speak the protocol.
const IDENTITY: &[&str] = &[
    "framework",
    "sdk",
    "sdk_author",
    "sdk_language",
    "sdk_version",
    "featureObservations",
];

fn corpus() -> PathBuf {
    std::env::var_os("INNGEST_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/js")
        })
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, http::HeaderMap, Value)>>>);

async fn stand_in_api(State(seen): State<Seen>, req: Request) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = parts.uri.to_string();
    seen.0
        .lock()
        .unwrap()
        .push((path.clone(), parts.headers, json.clone()));
    let reply = if path.starts_with("/fn/register") {
        json!({ "ok": true, "modified": true })
    } else if path.starts_with("/e/") {
        let n = json.as_array().map(Vec::len).unwrap_or(1);
        let ids: Vec<String> = (0..n).map(|i| format!("01JRECORDEREVENT{i:010}")).collect();
        json!({ "ids": ids, "status": 200 })
    } else {
        json!({ "ok": true })
    };
    axum::Json(reply).into_response()
}

async fn start_api() -> (String, Seen) {
    let seen = Seen::default();
    let router = axum::Router::new()
        .fallback(any(stand_in_api))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (origin, seen)
}

fn op_view(op: &Value) -> Value {
    let kind = op["op"].as_str().unwrap_or_default();
    let err = &op["error"];
    let userland = &op["userland"];
    json!({
        "op": op["op"],
        "id": op["id"],
        "name": op.get("name").cloned().unwrap_or(Value::Null),
        "opts": if op["opts"].is_null() { json!({}) } else { op["opts"].clone() },
        "data": if kind == "StepError" || kind == "StepFailed" { Value::Null } else { op.get("data").cloned().unwrap_or(Value::Null) },
        "error": if err.is_object() { json!({ "name": err["name"], "message": err["message"] }) } else { err.clone() },
        "userland": if userland.is_object() { json!({ "id": userland["id"], "index": userland.get("index").cloned().unwrap_or(Value::Null) }) } else { Value::Null },
    })
}

fn strip_identity(v: &mut Value) {
    if let Value::Object(m) = v {
        for k in IDENTITY {
            m.remove(*k);
        }
        if let Some(inspection) = m.get_mut("inspection") {
            strip_identity(inspection);
        }
    }
}

/// `replay.py`'s protocol view, with the SDK's identity fields left out.
fn protocol_view(
    status: u16,
    headers: &serde_json::Map<String, Value>,
    text: &str,
    recorded: &serde_json::Map<String, Value>,
) -> Value {
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or(json!({ "_non_json": text }))
    };
    let mut hs = serde_json::Map::new();
    for h in ["x-inngest-no-retry", "retry-after", "x-inngest-req-version"] {
        if recorded.contains_key(h) {
            hs.insert(h.into(), headers.get(h).cloned().unwrap_or(Value::Null));
        }
    }
    let mut view = json!({ "status": status, "headers": hs });
    match &body {
        Value::Array(ops) if status == 206 => {
            let mut ops: Vec<Value> = ops.iter().map(op_view).collect();
            ops.sort_by_key(|o| format!("{}{}", o["id"], o["op"]));
            view["ops"] = Value::Array(ops);
        }
        Value::Object(o) if status == 206 && o.contains_key("op") => {
            view["ops"] = json!([op_view(&body)])
        }
        Value::Object(_) if status >= 400 => {
            view["error"] = json!({ "name": body["name"], "message": body["message"] })
        }
        _ => {
            let mut b = body.clone();
            strip_identity(&mut b);
            view["body"] = b;
        }
    }
    view
}

fn lower_headers(h: &Value) -> serde_json::Map<String, Value> {
    h.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.to_lowercase(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Replays one scenario. `api` replaces the recorder's address (`127.0.0.1:9100`) in the
/// recorded answers: it is where the stand-in API listens, not part of the protocol.
async fn replay(handler: &ServeHandler, scenario: &str, api: &str) -> (usize, Vec<String>) {
    let dir = corpus().join(scenario);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with("-request.json"))
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for name in &names {
        let nn = &name[..2];
        let req: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        let rec: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{nn}-response.json"))).unwrap(),
        )
        .unwrap();
        let body = match (&req["body_text"], &req["body"]) {
            (Value::String(t), _) => t.clone().into_bytes(),
            (_, Value::Null) => Vec::new(),
            (_, b) => serde_json::to_vec(b).unwrap(),
        };
        let mut builder = http::Request::builder()
            .method(req["method"].as_str().unwrap_or("POST"))
            .uri(format!(
                "http://127.0.0.1:3939{}",
                req["url"].as_str().unwrap()
            ));
        for (k, v) in req["headers"].as_object().into_iter().flatten() {
            builder = builder.header(k.as_str(), v.as_str().unwrap());
        }
        let resp = handler
            .handle(builder.body(Bytes::from(body)).unwrap())
            .await;
        let status = resp.status().as_u16();
        let got_headers: serde_json::Map<String, Value> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
            .collect();
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        let rec_headers = lower_headers(&rec["headers"]);
        let rec_text = rec["body_text"]
            .as_str()
            .unwrap_or("")
            .replace("http://127.0.0.1:9100", api);
        let want = protocol_view(
            rec["status"].as_u64().unwrap() as u16,
            &rec_headers,
            &rec_text,
            &rec_headers,
        );
        let got = protocol_view(status, &got_headers, &text, &rec_headers);
        if want != got {
            failures.push(format!("{scenario}/{nn}:\n  want {want}\n  got  {got}"));
        }
        // A signed exchange is answered with a signature over the exact body.
        if rec_headers.contains_key("x-inngest-signature") {
            let sig = got_headers
                .get("x-inngest-signature")
                .and_then(Value::as_str);
            // The server checks it over the raw text, without canonicalizing.
            let expected = signature::sign(SIGNING_KEY, text.as_bytes(), RECORDED_AT);
            if sig != Some(expected.as_str()) {
                failures.push(format!(
                    "{scenario}/{nn}: response signature missing or wrong: {sig:?}"
                ));
            }
        }
        // Identity is ours, not the JS SDK's.
        assert_eq!(
            got_headers
                .get("x-inngest-sdk")
                .and_then(Value::as_str)
                .map(|s| s.starts_with("inngest-rs:v")),
            if status == 401 { None } else { Some(true) }
        );
    }
    (names.len(), failures)
}

fn fixed_clock() -> i64 {
    RECORDED_AT
}

#[tokio::test]
async fn every_recorded_request_gets_the_official_answer() {
    let (api, seen) = start_api().await;
    let dev = ServeHandler::new(
        conformance_app::app(Inngest::with_config("probe-app", Config::dev(&api))).unwrap(),
    )
    .framework("axum");
    let cloud_config = Config::from_vars([
        ("INNGEST_SIGNING_KEY", SIGNING_KEY),
        ("INNGEST_BASE_URL", api.as_str()),
    ]);
    let cloud = ServeHandler::new(
        conformance_app::app(Inngest::with_config("probe-app", cloud_config)).unwrap(),
    )
    .framework("axum")
    .clock(fixed_clock);

    let mut scenarios: Vec<String> = std::fs::read_dir(corpus())
        .unwrap_or_else(|e| {
            panic!(
                "conformance corpus not found at {}: {e}",
                corpus().display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| !n.contains("-checkpoint") && n != "_connect")
        .collect();
    scenarios.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    for s in &scenarios {
        let handler = if s == "_cloud-signed" { &cloud } else { &dev };
        let (n, f) = replay(handler, s, &api).await;
        total += n;
        failures.extend(f);
    }
    assert_eq!(
        scenarios.len(),
        17,
        "expected the whole corpus, found {scenarios:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // What the SDK itself sent to the API while answering.
    let seen = seen.0.lock().unwrap();
    let registers: Vec<_> = seen
        .iter()
        .filter(|(p, _, _)| p.starts_with("/fn/register"))
        .collect();
    assert_eq!(registers.len(), 3, "two dev syncs and one cloud sync");
    assert!(
        registers
            .iter()
            .any(|(p, _, _)| p == "/fn/register?deployId=dep_123")
    );
    for (_, h, body) in &registers {
        assert_eq!(h["x-inngest-sync-kind"], "out_of_band");
        assert_eq!(body["appName"], "probe-app");
        assert_eq!(body["functions"].as_array().unwrap().len(), 13);
        assert_eq!(body["url"], "http://127.0.0.1:3939/api/inngest");
    }
    let bearer = registers
        .iter()
        .filter_map(|(_, h, _)| h.get("authorization"))
        .next()
        .unwrap();
    assert_eq!(
        bearer,
        "Bearer signkey-test-4884fdaafea47c29fea7159d0daddd9c085d6200e1359e85bb81736af6b7c837"
    );
    let sends: Vec<_> = seen
        .iter()
        .filter(|(p, _, _)| p.starts_with("/e/"))
        .collect();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].0, "/e/NO_EVENT_KEY_SET");
    assert_eq!(sends[0].2[0]["name"], "app/child.requested");
    assert_eq!(sends[0].2[0]["data"], json!({ "n": 1 }));
}
