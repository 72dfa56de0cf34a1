//! The connect worker against a scripted gateway: a start API and a WebSocket endpoint in this
//! test that play the gateway's part as the recorded transcripts show it
//! (`tests/conformance/connect/`); the dev server's gateway is tested against the worker in
//! `inngest-devserver`'s `connect_*` tests. What is checked here: the start request, the
//! handshake in its order and the `WORKER_CONNECT` fields, ACK before work, lease extension
//! while a step runs (with the new lease id used), a reply not acknowledged in 5 s delivered
//! through the flush API,
//! heartbeats at the gateway's interval, a request for a step the run does not reach (the
//! contract's `step-not-found`, which no correct executor sends), and on shutdown
//! `WORKER_PAUSE` then a normal close.

#![cfg(feature = "connect")]
// tungstenite's handshake callback returns its own (large) error response type.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use inngest_runtime::config::Config;
use inngest_runtime::connect::{Worker, WorkerState};
use inngest_runtime::protocol::connect::*;
use inngest_runtime::step_id::hash;
use inngest_runtime::{App, Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions};
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

mod support;

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Job {
    #[garde(skip)]
    ms: u64,
}
impl Event for Job {
    const NAME: &'static str = "test/job";
}

/// One step that takes `ms`.
struct Slow;
impl Workflow for Slow {
    type Event = Job;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("slow")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        let ms = ctx.event.data.ms;
        ctx.step
            .run("work", async {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(42)
            })
            .await
    }
}

fn execution_request(ms: u64, steps: Value) -> Vec<u8> {
    let event = json!({ "name": Job::NAME, "data": { "ms": ms }, "id": "01EVT", "ts": 1 });
    serde_json::to_vec(&json!({
        "event": event, "events": [event], "steps": steps,
        "ctx": { "run_id": "01RUN", "attempt": 0, "max_attempts": 4,
                 "disable_immediate_execution": false, "use_api": false,
                 "stack": { "stack": [], "current": 0 } },
        "version": 2, "use_api": false,
    }))
    .expect("json")
}

fn executor_request(id: &str, body: Vec<u8>) -> GatewayExecutorRequestData {
    GatewayExecutorRequestData {
        request_id: id.into(),
        account_id: "acct".into(),
        env_id: "env".into(),
        app_id: "app-uuid".into(),
        app_name: "wk".into(),
        function_id: "fn-uuid".into(),
        function_slug: "wk-slow".into(),
        step_id: Some("step".into()),
        request_payload: body,
        run_id: "01RUN".into(),
        lease_id: format!("lease-{id}"),
        job_id: "job".into(),
        ..GatewayExecutorRequestData::default()
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn send(ws: &mut Socket, kind: GatewayMessageType, payload: &impl Message) {
    let frame = ConnectMessage::of(kind, payload).encode_to_vec();
    ws.send(Frame::Binary(frame.into())).await.expect("sent");
}

/// The next frame other than a heartbeat (each heartbeat is answered and counted).
async fn next(ws: &mut Socket, heartbeats: &mut u32) -> Option<ConnectMessage> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("the worker says something within 15 s")?
            .ok()?;
        match frame {
            Frame::Binary(b) => {
                let m = ConnectMessage::decode(b.as_ref()).expect("a ConnectMessage");
                if m.kind() == GatewayMessageType::WorkerHeartbeat {
                    *heartbeats += 1;
                    send(
                        ws,
                        GatewayMessageType::GatewayHeartbeat,
                        &WorkerReplyAckData::default(),
                    )
                    .await;
                    continue;
                }
                return Some(m);
            }
            Frame::Close(c) => {
                let reason = c.map(|c| c.reason.to_string()).unwrap_or_default();
                return Some(ConnectMessage {
                    kind: -1,
                    payload: reason.into_bytes(),
                });
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_connects_acks_extends_replies_heartbeats_and_pauses() {
    // The start API.
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
    let ws_url = format!(
        "ws://{}/v0/connect",
        ws_listener.local_addr().expect("addr")
    );
    let (start_tx, mut start_rx) = tokio::sync::mpsc::channel::<(Option<String>, Vec<u8>)>(4);
    let start_answer = StartResponse {
        connection_id: "01JCONN00000000000000000001".into(),
        gateway_endpoint: ws_url,
        gateway_group: "test-group".into(),
        session_token: "session".into(),
        sync_token: "sync".into(),
    };
    let (flush_tx, mut flush_rx) = tokio::sync::mpsc::channel::<(Option<String>, Vec<u8>)>(4);
    let api = axum::Router::new()
        .route(
            "/v0/connect/start",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let start_tx = start_tx.clone();
                    let answer = start_answer.encode_to_vec();
                    async move {
                        let ct = headers
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        let _ = start_tx.send((ct, body.to_vec())).await;
                        answer
                    }
                },
            ),
        )
        .route(
            "/v0/connect/flush",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let flush_tx = flush_tx.clone();
                    async move {
                        let ct = headers
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        let reply = SdkResponse::decode(body.as_ref()).unwrap_or_default();
                        let _ = flush_tx.send((ct, body.to_vec())).await;
                        FlushResponse {
                            request_id: reply.request_id,
                        }
                        .encode_to_vec()
                    }
                },
            ),
        );
    let (api_addr, api_task) = support::serve(api).await;
    let api_url = format!("http://{api_addr}");

    // The worker.
    let app = App::builder(Inngest::with_config("wk", Config::dev(api_url)))
        .register(Slow)
        .build()
        .expect("the app builds");
    let worker = Worker::new(app).instance_id("test-instance");
    let mut state = worker.state();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker_task = tokio::spawn(worker.run_until(async {
        let _ = stop_rx.await;
    }));

    // Start: protobuf, no gateways excluded.
    let (ct, body) = start_rx.recv().await.expect("a start request");
    assert_eq!(ct.as_deref(), Some("application/protobuf"));
    assert!(
        StartRequest::decode(body.as_slice())
            .expect("decodes")
            .exclude_gateways
            .is_empty()
    );

    // The handshake.
    let (tcp, _) = ws_listener.accept().await.expect("the worker dials");
    let mut ws = tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, mut resp: Response| {
        assert_eq!(
            req.headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(SUBPROTOCOL)
        );
        resp.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(resp)
    })
    .await
    .expect("the upgrade");
    let mut heartbeats = 0;
    ws.send(Frame::Binary(
        ConnectMessage::bare(GatewayMessageType::GatewayHello)
            .encode_to_vec()
            .into(),
    ))
    .await
    .expect("hello");
    let connect = next(&mut ws, &mut heartbeats)
        .await
        .expect("WORKER_CONNECT");
    assert_eq!(connect.kind(), GatewayMessageType::WorkerConnect);
    let c: WorkerConnectRequestData = connect.payload_as().expect("decodes");
    assert_eq!(c.connection_id, "01JCONN00000000000000000001");
    assert_eq!(c.instance_id, "test-instance");
    assert_eq!(c.auth_data.expect("auth").session_token, "session");
    let caps: Value = serde_json::from_slice(&c.capabilities).expect("JSON");
    assert_eq!(caps["connect"], "v1");
    assert!(c.worker_manual_readiness_ack);
    assert_eq!(
        (c.framework.as_str(), c.sdk_language.as_str()),
        ("connect", "rust")
    );
    assert_eq!(c.apps[0].app_name, "wk");
    let functions: Value = serde_json::from_slice(&c.apps[0].functions).expect("JSON");
    assert_eq!(functions[0]["id"], "wk-slow");
    assert_eq!(functions[0]["steps"]["step"]["runtime"]["type"], "ws");
    assert!(c.started_at.is_some());
    send(
        &mut ws,
        GatewayMessageType::GatewayConnectionReady,
        &GatewayConnectionReadyData {
            heartbeat_interval: "1s".into(),
            extend_lease_interval: "1s".into(),
            status_interval: "0s".into(),
        },
    )
    .await;
    assert_eq!(
        next(&mut ws, &mut heartbeats).await.expect("ready").kind(),
        GatewayMessageType::WorkerReady
    );
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| *s == WorkerState::Active),
    )
    .await
    .expect("active in time")
    .expect("state");

    // A request whose step takes 2.5 s: ACK first, leases meanwhile, then the reply.
    send(
        &mut ws,
        GatewayMessageType::GatewayExecutorRequest,
        &executor_request("r1", execution_request(2500, json!({}))),
    )
    .await;
    let ack = next(&mut ws, &mut heartbeats).await.expect("an ack");
    assert_eq!(ack.kind(), GatewayMessageType::WorkerRequestAck);
    let ack: WorkerRequestAckData = ack.payload_as().expect("decodes");
    assert_eq!(
        (
            ack.request_id.as_str(),
            ack.function_slug.as_str(),
            ack.run_id.as_str()
        ),
        ("r1", "wk-slow", "01RUN")
    );
    let extend = next(&mut ws, &mut heartbeats)
        .await
        .expect("a lease extension");
    assert_eq!(extend.kind(), GatewayMessageType::WorkerRequestExtendLease);
    let extend: WorkerRequestExtendLeaseData = extend.payload_as().expect("decodes");
    assert_eq!(extend.lease_id, "lease-r1");
    send(
        &mut ws,
        GatewayMessageType::WorkerRequestExtendLeaseAck,
        &WorkerRequestExtendLeaseAckData {
            request_id: "r1".into(),
            new_lease_id: Some("lease-r1-2".into()),
            ..Default::default()
        },
    )
    .await;
    let extend = next(&mut ws, &mut heartbeats)
        .await
        .expect("a second extension");
    assert_eq!(extend.kind(), GatewayMessageType::WorkerRequestExtendLease);
    let extend: WorkerRequestExtendLeaseData = extend.payload_as().expect("decodes");
    assert_eq!(
        extend.lease_id, "lease-r1-2",
        "the new lease is the one extended"
    );
    let reply = loop {
        let m = next(&mut ws, &mut heartbeats).await.expect("the reply");
        if m.kind() != GatewayMessageType::WorkerRequestExtendLease {
            break m;
        }
    };
    assert_eq!(reply.kind(), GatewayMessageType::WorkerReply);
    let reply: SdkResponse = reply.payload_as().expect("decodes");
    assert_eq!(reply.status(), SdkResponseStatus::NotCompleted);
    let ops: Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!(ops[0]["op"], "StepRun");
    assert_eq!(ops[0]["data"], 42);
    assert_eq!(reply.request_version, 2);

    // Not acknowledged within 5 s: delivered through the flush API instead, as protobuf.
    // Meanwhile the socket stays up (heartbeats answered), and the reply is not sent again
    // over it.
    let waiting = tokio::time::Instant::now();
    let deadline = waiting + Duration::from_secs(10);
    let (ct, flushed) = loop {
        tokio::select! {
            flushed = flush_rx.recv() => break flushed.expect("a flush request"),
            m = next(&mut ws, &mut heartbeats) => {
                let m = m.expect("the socket stays open");
                assert_ne!(m.kind(), GatewayMessageType::WorkerReply, "sent again over the socket");
            }
            () = tokio::time::sleep_until(deadline) => panic!("not flushed within 10 s"),
        }
    };
    assert!(
        waiting.elapsed() >= Duration::from_secs(4),
        "flushed before the acknowledgement was due: {:?}",
        waiting.elapsed()
    );
    assert_eq!(ct.as_deref(), Some("application/protobuf"));
    let flushed = SdkResponse::decode(flushed.as_slice()).expect("an SDKResponse");
    assert_eq!(flushed.request_id, "r1");
    assert_eq!(flushed.body, reply.body);
    assert_eq!(
        flushed.system_trace_ctx, b"{}",
        "a trace context the API can read"
    );
    // A late acknowledgement changes nothing.
    send(
        &mut ws,
        GatewayMessageType::WorkerReplyAck,
        &WorkerReplyAckData {
            request_id: "r1".into(),
        },
    )
    .await;

    // The final request: DONE with the output.
    send(
        &mut ws,
        GatewayMessageType::GatewayExecutorRequest,
        &executor_request(
            "r2",
            execution_request(0, json!({ hash("work"): { "data": 42 } })),
        ),
    )
    .await;
    assert_eq!(
        next(&mut ws, &mut heartbeats).await.expect("ack").kind(),
        GatewayMessageType::WorkerRequestAck
    );
    let done = next(&mut ws, &mut heartbeats).await.expect("reply");
    let done: SdkResponse = done.payload_as().expect("decodes");
    assert_eq!(done.status(), SdkResponseStatus::Done);
    assert_eq!(
        serde_json::from_slice::<Value>(&done.body).expect("JSON"),
        json!(42)
    );
    send(
        &mut ws,
        GatewayMessageType::WorkerReplyAck,
        &WorkerReplyAckData {
            request_id: "r2".into(),
        },
    )
    .await;

    // A request that targets a step the run does not reach (the contract's `step-not-found`):
    // an error reply naming the step it asked for and the steps it found, retriable, as the
    // official SDK answers it in serve mode.
    let missing = "0".repeat(40);
    let body = serde_json::to_vec(&json!({
        "event": { "name": Job::NAME, "data": { "ms": 0 }, "id": "01EVT", "ts": 1 },
        "steps": {},
        "ctx": { "run_id": "01RUN", "attempt": 0, "max_attempts": 1,
                 "disable_immediate_execution": true, "use_api": false,
                 "stack": { "stack": [], "current": 0 } },
        "version": -1, "use_api": false,
    }))
    .expect("json");
    send(
        &mut ws,
        GatewayMessageType::GatewayExecutorRequest,
        &GatewayExecutorRequestData {
            step_id: Some(missing.clone()),
            ..executor_request("r3", body)
        },
    )
    .await;
    assert_eq!(
        next(&mut ws, &mut heartbeats).await.expect("ack").kind(),
        GatewayMessageType::WorkerRequestAck
    );
    let not_found: SdkResponse = next(&mut ws, &mut heartbeats)
        .await
        .expect("reply")
        .payload_as()
        .expect("decodes");
    assert_eq!(not_found.status(), SdkResponseStatus::Error);
    assert!(!not_found.no_retry, "retriable, as the official SDK says");
    let answer: Value = serde_json::from_slice(&not_found.body).expect("JSON");
    assert_eq!(answer["requestedStep"], missing.as_str());
    assert_eq!(answer["foundSteps"][0]["id"], hash("work"));
    assert_eq!(answer["foundSteps"][0]["name"], "work");
    assert_eq!(answer["totalFoundSteps"], 1);
    assert_eq!(
        answer["error"],
        format!(
            "Could not find step \"{missing}\" to run; timed out. Found new steps: \nwork ({}).",
            hash("work")
        )
    );
    send(
        &mut ws,
        GatewayMessageType::WorkerReplyAck,
        &WorkerReplyAckData {
            request_id: "r3".into(),
        },
    )
    .await;
    assert!(heartbeats >= 2, "a heartbeat a second: {heartbeats}");

    // Shutdown: PAUSE, then a normal close.
    let _ = stop_tx.send(());
    assert_eq!(
        next(&mut ws, &mut heartbeats).await.expect("pause").kind(),
        GatewayMessageType::WorkerPause
    );
    let close = next(&mut ws, &mut heartbeats).await.expect("close");
    assert_eq!(close.kind, -1);
    assert_eq!(String::from_utf8_lossy(&close.payload), "WORKER_SHUTDOWN");
    let result = tokio::time::timeout(Duration::from_secs(10), worker_task)
        .await
        .expect("the worker stops")
        .expect("no panic");
    assert!(result.is_ok());
    assert_eq!(*state.borrow(), WorkerState::Closed);
    api_task.abort();
}

/// A gateway that drops the socket in the handshake: the worker backs off, asks the start API
/// again without that gateway, and stops when told to even while it is reconnecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_gateway_is_excluded_on_the_next_start() {
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
    let ws_url = format!(
        "ws://{}/v0/connect",
        ws_listener.local_addr().expect("addr")
    );
    let (start_tx, mut start_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let answer = StartResponse {
        connection_id: "01JCONN00000000000000000002".into(),
        gateway_endpoint: ws_url,
        gateway_group: "flaky-group".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let api = axum::Router::new().route(
        "/v0/connect/start",
        axum::routing::post(move |body: axum::body::Bytes| {
            let start_tx = start_tx.clone();
            let answer = answer.clone();
            async move {
                let _ = start_tx.send(body.to_vec()).await;
                answer
            }
        }),
    );
    let (api_addr, api_task) = support::serve(api).await;
    let api_url = format!("http://{api_addr}");
    let app = App::builder(Inngest::with_config("wk", Config::dev(api_url)))
        .register(Slow)
        .build()
        .expect("the app builds");
    let worker = Worker::new(app).instance_id("test-instance");
    let mut state = worker.state();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker_task = tokio::spawn(worker.run_until(async {
        let _ = stop_rx.await;
    }));

    let first = start_rx.recv().await.expect("a first start");
    assert!(
        StartRequest::decode(first.as_slice())
            .expect("decodes")
            .exclude_gateways
            .is_empty()
    );
    // Accept the upgrade, then drop the socket before GATEWAY_HELLO.
    let (tcp, _) = ws_listener.accept().await.expect("the worker dials");
    let ws = tokio_tungstenite::accept_hdr_async(tcp, |_: &Request, mut resp: Response| {
        resp.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(resp)
    })
    .await
    .expect("the upgrade");
    drop(ws);
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| *s == WorkerState::Reconnecting),
    )
    .await
    .expect("reconnecting in time")
    .expect("state");
    let second = tokio::time::timeout(Duration::from_secs(5), start_rx.recv())
        .await
        .expect("a second start after the backoff")
        .expect("a body");
    assert_eq!(
        StartRequest::decode(second.as_slice())
            .expect("decodes")
            .exclude_gateways,
        ["flaky-group"]
    );
    let _ = stop_tx.send(());
    let result = tokio::time::timeout(Duration::from_secs(15), worker_task)
        .await
        .expect("the worker stops while reconnecting")
        .expect("no panic");
    assert!(result.is_ok());
    api_task.abort();
}

/// A signing key the start API refuses: the key goes hashed, the fallback key is tried, and the
/// worker backs off instead of asking again in a tight loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_signing_key_backs_off_without_a_tight_loop() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::channel::<Option<String>>(64);
    let api = axum::Router::new().route(
        "/v0/connect/start",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let seen_tx = seen_tx.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let _ = seen_tx.send(auth).await;
                axum::http::StatusCode::UNAUTHORIZED
            }
        }),
    );
    let (api_addr, api_task) = support::serve(api).await;
    let api_url = format!("http://{api_addr}");
    let config = Config::from_vars([
        ("INNGEST_API_BASE_URL", api_url.as_str()),
        ("INNGEST_SIGNING_KEY", "signkey-test-0011"),
        ("INNGEST_SIGNING_KEY_FALLBACK", "signkey-test-0022"),
        ("INNGEST_EVENT_KEY", "key"),
    ]);
    let app = App::builder(Inngest::with_config("wk", config))
        .register(Slow)
        .build()
        .expect("the app builds");
    let worker = Worker::new(app).instance_id("test-instance");
    let mut state = worker.state();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker_task = tokio::spawn(worker.run_until(async {
        let _ = stop_rx.await;
    }));
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| *s == WorkerState::Reconnecting),
    )
    .await
    .expect("reconnecting in time")
    .expect("state");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut seen = Vec::new();
    while let Ok(auth) = seen_rx.try_recv() {
        seen.push(auth.unwrap_or_default());
    }
    let primary = format!(
        "Bearer {}",
        inngest_runtime::signature::hashed_signing_key("signkey-test-0011")
    );
    let fallback = format!(
        "Bearer {}",
        inngest_runtime::signature::hashed_signing_key("signkey-test-0022")
    );
    assert!(primary.starts_with("Bearer signkey-test-") && primary != fallback);
    assert_eq!(
        seen[..2],
        [primary.clone(), fallback.clone()],
        "both keys, hashed"
    );
    assert!(
        !seen.iter().any(|a| a.is_empty()),
        "never unsigned with keys set: {seen:?}"
    );
    // In 2.5 s: the first try and the one after 1 s of backoff (one more after 2 s may make it).
    assert!(
        (4..=6).contains(&seen.len()),
        "{} start requests in 3.5 s: {seen:?}",
        seen.len()
    );
    let _ = stop_tx.send(());
    let result = tokio::time::timeout(Duration::from_secs(5), worker_task)
        .await
        .expect("the worker stops while backing off")
        .expect("no panic");
    assert!(result.is_ok());
    api_task.abort();
}

/// A gateway that sends `GATEWAY_CLOSING` as soon as the worker is ready, on every connection:
/// a connection that short counts as a failure, so the worker backs off (1 s, then 2 s)
/// instead of reconnecting in a tight loop, and it excludes every gateway group that failed
/// lately, not only the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_closing_at_once_does_not_make_a_tight_loop() {
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
    let ws_url = format!(
        "ws://{}/v0/connect",
        ws_listener.local_addr().expect("addr")
    );
    let (start_tx, mut start_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(256);
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let api = axum::Router::new().route(
        "/v0/connect/start",
        axum::routing::post(move |body: axum::body::Bytes| {
            let start_tx = start_tx.clone();
            let ws_url = ws_url.clone();
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                let _ = start_tx.send(body.to_vec()).await;
                StartResponse {
                    connection_id: format!("01JCONN0000000000000000{n:04}"),
                    gateway_endpoint: ws_url,
                    gateway_group: format!("group-{n}"),
                    ..Default::default()
                }
                .encode_to_vec()
            }
        }),
    );
    let (api_addr, api_task) = support::serve(api).await;
    let api_url = format!("http://{api_addr}");
    // Every connection: the handshake, then GATEWAY_CLOSING at once.
    let gateway_task = tokio::spawn(async move {
        while let Ok((tcp, _)) = ws_listener.accept().await {
            tokio::spawn(async move {
                let accept = |_: &Request, mut resp: Response| {
                    resp.headers_mut().insert(
                        "sec-websocket-protocol",
                        HeaderValue::from_static(SUBPROTOCOL),
                    );
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, accept).await else {
                    return;
                };
                let mut heartbeats = 0;
                send(
                    &mut ws,
                    GatewayMessageType::GatewayHello,
                    &WorkerReplyAckData::default(),
                )
                .await;
                let _connect = next(&mut ws, &mut heartbeats).await;
                send(
                    &mut ws,
                    GatewayMessageType::GatewayConnectionReady,
                    &GatewayConnectionReadyData {
                        heartbeat_interval: "10s".into(),
                        extend_lease_interval: "5s".into(),
                        status_interval: "0s".into(),
                    },
                )
                .await;
                let _ready = next(&mut ws, &mut heartbeats).await;
                send(
                    &mut ws,
                    GatewayMessageType::GatewayClosing,
                    &WorkerReplyAckData::default(),
                )
                .await;
                // Held open: the worker is the one to leave.
                while next(&mut ws, &mut heartbeats).await.is_some() {}
            });
        }
    });
    let app = App::builder(Inngest::with_config("wk", Config::dev(api_url)))
        .register(Slow)
        .build()
        .expect("the app builds");
    let worker = Worker::new(app).instance_id("test-instance");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker_task = tokio::spawn(worker.run_until(async {
        let _ = stop_rx.await;
    }));

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut starts = Vec::new();
    while let Ok(body) = start_rx.try_recv() {
        starts.push(StartRequest::decode(body.as_slice()).expect("decodes"));
    }
    // At 0 s, after 0.8–1 s, and perhaps after 1.6–2 s more.
    assert!(
        (2..=3).contains(&starts.len()),
        "{} starts in 2.5 s",
        starts.len()
    );
    assert!(starts[0].exclude_gateways.is_empty());
    assert_eq!(starts[1].exclude_gateways, ["group-0"]);
    let third = match starts.get(2) {
        Some(third) => third.clone(),
        None => {
            let body = tokio::time::timeout(Duration::from_secs(5), start_rx.recv())
                .await
                .expect("a third start")
                .expect("a body");
            StartRequest::decode(body.as_slice()).expect("decodes")
        }
    };
    assert_eq!(third.exclude_gateways, ["group-0", "group-1"]);

    let _ = stop_tx.send(());
    let result = tokio::time::timeout(Duration::from_secs(15), worker_task)
        .await
        .expect("the worker stops")
        .expect("no panic");
    assert!(result.is_ok());
    api_task.abort();
    gateway_task.abort();
}
