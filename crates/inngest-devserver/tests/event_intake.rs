//! The event API's guarantees: an event id starts a function once in 24 hours, and every
//! event stays findable by id, however many came after it.

// Shared with `inngest_cases.rs`, which uses all of it; this file uses a part.
#[path = "golden/scripted_sdk.rs"]
#[allow(dead_code)]
mod scripted_sdk;

use std::time::Duration;

use inngest_devserver::{DevServer, DevServerConfig};
use inngest_runtime::protocol::sync::RegisterRequest;
use scripted_sdk::{Answer, ScriptedSdk};
use serde_json::{Value, json};

async fn server() -> DevServer {
    DevServer::start(DevServerConfig {
        port: 0,
        checkpointing: false,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts")
}

/// Two functions of app `ids`, both triggered by `ids/go`.
async fn register(server: &DevServer, url: &str) {
    let function = |name: &str| {
        let id = format!("ids-{name}");
        json!({ "id": id, "name": name, "triggers": [{ "event": "ids/go" }],
                "steps": { "step": { "id": "step", "name": "step",
                    "runtime": { "type": "http", "url": format!("{url}?fnId={id}&step=step") } } } })
    };
    let sync: RegisterRequest = serde_json::from_value(json!({
        "url": url, "deployType": "ping", "appName": "ids", "sdk": "go:v0.15.1", "v": "0.1",
        "functions": [function("a"), function("b")],
    }))
    .expect("a sync");
    server.engine().register(sync).await.expect("registers");
}

/// Answers every call until `quiet` passes without one; returns the functions called.
async fn answer_all(sdk: &mut ScriptedSdk, quiet: Duration) -> Vec<String> {
    let mut called = Vec::new();
    while let Ok(Some(incoming)) = tokio::time::timeout(quiet, sdk.next_any()).await {
        called.push(incoming.fn_id.clone());
        incoming.answer(Answer::done(Value::Null));
    }
    called.sort();
    called
}

#[tokio::test]
async fn an_event_id_starts_each_function_once_in_24_hours() {
    let server = server().await;
    let mut sdk = ScriptedSdk::start().await;
    register(&server, sdk.url()).await;
    let event = json!({ "id": "order-1", "name": "ids/go", "data": {} });
    let ids = server.send(vec![event.clone()]).await.expect("accepted");
    assert_eq!(ids, ["order-1"]);
    let quiet = Duration::from_millis(400);
    assert_eq!(answer_all(&mut sdk, quiet).await, ["ids-a", "ids-b"]);
    // The same id again, alone and twice in one batch: accepted, stored, no second run.
    let again = server
        .send(vec![event.clone(), event.clone()])
        .await
        .expect("accepted");
    assert_eq!(again, ["order-1", "order-1"]);
    assert!(answer_all(&mut sdk, quiet).await.is_empty());
    assert_eq!(
        server
            .engine()
            .event_runs("order-1".into())
            .await
            .expect("running")
            .len(),
        2
    );
    // Another id starts both again; a day later, the first one does too.
    server
        .send(vec![json!({ "id": "order-2", "name": "ids/go" })])
        .await
        .expect("accepted");
    assert_eq!(answer_all(&mut sdk, quiet).await, ["ids-a", "ids-b"]);
    server
        .advance(Duration::from_secs(24 * 3600 + 1))
        .await
        .expect("running");
    server.send(vec![event]).await.expect("accepted");
    assert_eq!(answer_all(&mut sdk, quiet).await, ["ids-a", "ids-b"]);
    server.stop().await;
}

#[tokio::test]
async fn an_event_is_found_by_id_after_thousands_more() {
    let server = server().await;
    let first = server
        .send(vec![json!({ "name": "noise/first", "data": { "n": 0 } })])
        .await
        .expect("accepted");
    for chunk in 0..3 {
        let batch: Vec<Value> = (0..1000)
            .map(|i| json!({ "name": "noise/more", "data": { "n": chunk * 1000 + i } }))
            .collect();
        server.send(batch).await.expect("accepted");
    }
    let http = reqwest::Client::new();
    let found: Value = http
        .get(format!("{}/v1/events/{}", server.url(), first[0]))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("json");
    assert_eq!(found["data"]["name"], "noise/first", "{found}");
    server.stop().await;
}

/// The invoke API makes an `inngest/function.invoked` event, which the event API's rules hold
/// for too: one over the size limit is refused with 413 and why, and starts no run.
#[tokio::test]
async fn an_invoke_over_the_event_size_limit_starts_nothing() {
    let server = server().await;
    let mut sdk = ScriptedSdk::start().await;
    register(&server, sdk.url()).await;
    let http = reqwest::Client::new();
    let invoke = |data: Value| {
        http.post(format!("{}/v1/functions/ids-a/invoke", server.url()))
            .json(&json!({ "data": data }))
            .send()
    };
    let big = invoke(json!({ "pad": "x".repeat(600 * 1024) }))
        .await
        .expect("answers");
    assert_eq!(big.status(), 413);
    let why: Value = big.json().await.expect("a JSON error");
    assert!(
        why.to_string().contains("larger than"),
        "the answer says why: {why}"
    );
    assert_eq!(
        answer_all(&mut sdk, Duration::from_millis(300)).await,
        Vec::<String>::new(),
        "no run started"
    );
    let small = invoke(json!({ "n": 1 })).await.expect("answers");
    assert_eq!(small.status(), 201);
    assert_eq!(
        answer_all(&mut sdk, Duration::from_millis(500)).await,
        ["ids-a"]
    );
    server.stop().await;
}

/// An event nested deeper than 100 levels is refused with 400 and why (its run and the events
/// that carry it nest it deeper, and must stay readable); one 100 deep is taken.
#[tokio::test]
async fn an_event_nested_too_deep_is_refused() {
    let server = server().await;
    let nested = |levels: usize| -> Value {
        // `data` is one level, so `levels - 2` arrays inside it, and the event itself.
        let mut v = json!(1);
        for _ in 0..levels - 2 {
            v = json!([v]);
        }
        json!({ "name": "deep/event", "data": { "x": v } })
    };
    let post = |event: Value| {
        reqwest::Client::new()
            .post(format!("{}/e/key", server.url()))
            .json(&event)
            .send()
    };
    let deep = post(nested(101)).await.expect("answers");
    assert_eq!(deep.status(), 400);
    let why: Value = deep.json().await.expect("a JSON error");
    assert!(why.to_string().contains("deeper than 100"), "{why}");
    let ok = post(nested(100)).await.expect("answers");
    assert_eq!(ok.status(), 200);
    server.stop().await;
}

/// The depth limit is for events from outside: a run of an event at the limit finishes, and
/// its `inngest/function.finished` event, which nests the run's events deeper, is kept.
#[tokio::test]
async fn a_run_of_an_event_at_the_depth_limit_keeps_its_lifecycle_events() {
    let server = server().await;
    let mut sdk = ScriptedSdk::start().await;
    register(&server, sdk.url()).await;
    let mut v = json!(1);
    for _ in 0..98 {
        v = json!([v]);
    }
    let event = json!({ "id": "deep-1", "name": "ids/go", "data": { "x": v } });
    server
        .send(vec![event])
        .await
        .expect("accepted at the limit");
    assert_eq!(
        answer_all(&mut sdk, Duration::from_millis(500)).await,
        ["ids-a", "ids-b"]
    );
    let mut finished = Vec::new();
    for _ in 0..100 {
        let events: Value = reqwest::get(format!(
            "{}/v1/events?name=inngest/function.finished",
            server.url()
        ))
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
        finished = events["data"].as_array().cloned().unwrap_or_default();
        if finished.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        finished.len(),
        2,
        "both runs' finished events: {finished:?}"
    );
    server.stop().await;
}
