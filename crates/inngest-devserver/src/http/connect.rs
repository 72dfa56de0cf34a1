//! Connect mode's two endpoints, on the dev server's own port so that a worker finds them with
//! nothing but `INNGEST_DEV`: `POST /v0/connect/start` hands out a connection id and tokens and
//! names this server's WebSocket endpoint, `GET /v0/connect`, where the worker does its
//! handshake, syncs its apps and takes executions.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message as Frame, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use inngest_runtime::protocol::connect::*;
use inngest_runtime::protocol::sync::{FunctionConfig, RegisterRequest};
use prost::Message as _;
use tokio::sync::mpsc;

use super::Shared;

/// How long the worker has for `WORKER_CONNECT`.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// A worker that misses this many heartbeats in a row is dropped, as the official gateway
/// drops it (`consecutiveWorkerHeartbeatMissesBeforeConnectionClose`).
const MISSED_HEARTBEATS: u32 = 5;
/// At most this many apps per worker, as the official gateway allows.
const MAX_APPS: usize = 100;
/// How long the last frames to a worker may take once the server stops.
const CLOSING_WRITE: Duration = Duration::from_secs(1);

/// `POST /v0/connect/start`.
pub(super) async fn start(State(s): State<Shared>) -> Response {
    if s.gateway.is_closed() {
        return stopping();
    }
    let host = s.url.trim_start_matches("http://");
    let answer = StartResponse {
        connection_id: ulid::Ulid::new().to_string(),
        gateway_endpoint: format!("ws://{host}/v0/connect"),
        gateway_group: "dev-server".into(),
        session_token: ulid::Ulid::new().to_string(),
        sync_token: ulid::Ulid::new().to_string(),
    };
    (
        [(axum::http::header::CONTENT_TYPE, "application/protobuf")],
        answer.encode_to_vec(),
    )
        .into_response()
}

/// `POST /v0/connect/flush`: a reply the worker could not deliver over its socket (a protobuf
/// `SdkResponse`), answered with a `FlushResponse`. A reply to a call that is no longer pending
/// (answered, or its lease ran out) is taken and ignored, as the official API takes it.
pub(super) async fn flush(State(s): State<Shared>, body: axum::body::Bytes) -> Response {
    let reply = match SdkResponse::decode(body.as_ref()) {
        Ok(r) if !r.request_id.is_empty() => r,
        Ok(_) => return bad_flush("the reply names no request".into()),
        Err(e) => return bad_flush(format!("the body is not an SDKResponse: {e}")),
    };
    let answer = FlushResponse {
        request_id: reply.request_id.clone(),
    };
    if !s.gateway.reply(reply) {
        tracing::debug!(request = %answer.request_id, "a flushed reply answers no pending call");
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/protobuf")],
        answer.encode_to_vec(),
    )
        .into_response()
}

/// The answer once the server stops: the worker tries again (another server, or this one
/// back).
fn stopping() -> Response {
    super::ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "the dev server is stopping",
    )
    .into_response()
}

fn bad_flush(message: String) -> Response {
    (
        axum::http::StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// `GET /v0/connect`: the WebSocket.
/// An upgraded connection no longer counts against the server's connection limit, so each
/// session holds a place of the gateway's own (at most
/// [`MAX_SESSIONS`](crate::gateway::MAX_SESSIONS)); with none left the upgrade is refused with
/// a JSON 503, and the worker tries again later.
pub(super) async fn socket(State(s): State<Shared>, ws: WebSocketUpgrade) -> Response {
    if s.gateway.is_closed() {
        return stopping();
    }
    let Some(slot) = s.gateway.session_slot() else {
        tracing::warn!(
            max = crate::gateway::MAX_SESSIONS,
            "a connect session was refused: too many are open"
        );
        return super::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} connect sessions are open; try again later",
                crate::gateway::MAX_SESSIONS
            ),
        )
        .into_response();
    };
    ws.protocols([SUBPROTOCOL])
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            session(socket, s).await;
            drop(slot);
        })
}

fn frame(kind: GatewayMessageType, payload: &impl prost::Message) -> Frame {
    encoded(&ConnectMessage::of(kind, payload))
}

/// A duration as Go's `time.ParseDuration` reads it: whole seconds as `10s`, else milliseconds.
fn go_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A message as a binary frame.
fn encoded(message: &ConnectMessage) -> Frame {
    Frame::Binary(message.encode_to_vec().into())
}

fn bare(kind: GatewayMessageType) -> Frame {
    encoded(&ConnectMessage::bare(kind))
}

/// Why a write to a worker failed.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    /// The socket failed.
    #[error("the socket failed")]
    Socket(#[source] axum::Error),
    /// The worker took nothing within the limit: it stopped reading.
    #[error("the worker read nothing for {0:?}")]
    Stalled(Duration),
}

/// Writes `first` and whatever else is queued for the worker meanwhile with one flush: a
/// reply's acknowledgement and the run's next request, queued while the engine answered the
/// reply, go out in one write. A worker that does not take it within `limit` (its socket's
/// buffers full: it stopped reading) fails the write, so that a session never waits on it
/// for good.
async fn write(
    socket: &mut WebSocket,
    first: Frame,
    queued: &mut mpsc::UnboundedReceiver<ConnectMessage>,
    limit: Duration,
) -> Result<(), WriteError> {
    use futures::SinkExt;
    let written = async {
        socket.feed(first).await?;
        while let Ok(next) = queued.try_recv() {
            socket.feed(encoded(&next)).await?;
        }
        socket.flush().await
    };
    match tokio::time::timeout(limit, written).await {
        Ok(result) => result.map_err(WriteError::Socket),
        Err(_) => Err(WriteError::Stalled(limit)),
    }
}

/// The next connect message, or why there is none.
async fn next(socket: &mut WebSocket) -> Result<ConnectMessage, String> {
    loop {
        match socket.recv().await {
            Some(Ok(Frame::Binary(b))) => {
                return ConnectMessage::decode(b.as_ref())
                    .map_err(|e| format!("not a ConnectMessage: {e}"));
            }
            Some(Ok(Frame::Close(_))) | None => return Err("the worker closed".into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("the socket failed: {e}")),
        }
    }
}

/// The sync an app of `WORKER_CONNECT` stands for.
fn sync_of(
    connect: &WorkerConnectRequestData,
    app: &AppConfiguration,
) -> Result<RegisterRequest, String> {
    let functions: Vec<FunctionConfig> = serde_json::from_slice(&app.functions)
        .map_err(|e| format!("the functions of {:?} are not valid: {e}", app.app_name))?;
    let capabilities = serde_json::from_slice(&connect.capabilities).unwrap_or_default();
    Ok(RegisterRequest {
        url: crate::gateway::app_url(&app.app_name),
        deploy_type: "connect".into(),
        framework: connect.framework.clone(),
        app_name: app.app_name.clone(),
        functions,
        sdk: format!("{}:{}", connect.sdk_language, connect.sdk_version),
        v: "0.1".into(),
        capabilities,
        app_version: app.app_version.clone(),
    })
}

async fn refuse(socket: &mut WebSocket, code: &str, message: String) {
    tracing::warn!(%message, "a connect worker was refused");
    let err = SystemError {
        code: code.into(),
        data: None,
        message,
    };
    let _ = socket
        .send(frame(GatewayMessageType::SyncFailed, &err))
        .await;
    let _ = socket.send(Frame::Close(None)).await;
}

async fn session(mut socket: WebSocket, s: Shared) {
    // Subscribed before the worker joins: a stop after it joined ends the loop below; one
    // before, and the gateway refuses it (`Gateway::add`).
    let mut closed = s.gateway.closed();
    if socket
        .send(bare(GatewayMessageType::GatewayHello))
        .await
        .is_err()
    {
        return;
    }
    let connect = match tokio::time::timeout(HANDSHAKE, next(&mut socket)).await {
        Ok(Ok(m)) if m.kind() == GatewayMessageType::WorkerConnect => {
            match m.payload_as::<WorkerConnectRequestData>() {
                Ok(c) => c,
                Err(e) => {
                    return refuse(
                        &mut socket,
                        "malformed",
                        format!("WORKER_CONNECT is malformed: {e}"),
                    )
                    .await;
                }
            }
        }
        Ok(Ok(m)) => {
            return refuse(
                &mut socket,
                "handshake",
                format!("expected WORKER_CONNECT, got {}", m.kind().name()),
            )
            .await;
        }
        Ok(Err(_)) | Err(_) => return,
    };
    if connect.connection_id.parse::<ulid::Ulid>().is_err() || connect.instance_id.trim().is_empty()
    {
        return refuse(
            &mut socket,
            "handshake",
            "WORKER_CONNECT needs the connection id from start and an instance id".into(),
        )
        .await;
    }
    if connect.apps.is_empty() || connect.apps.len() > MAX_APPS {
        return refuse(
            &mut socket,
            "handshake",
            format!("a worker serves 1 to {MAX_APPS} apps"),
        )
        .await;
    }
    for app in &connect.apps {
        let synced = match sync_of(&connect, app) {
            Ok(sync) => s
                .engine
                .register(sync)
                .await
                .map_err(|e| crate::error_chain(&e)),
            Err(why) => Err(why),
        };
        if let Err(why) = synced {
            return refuse(&mut socket, "sync_failed", why).await;
        }
    }
    // Extended four times a lease (5 s of the default 20 s).
    let heartbeat = s.gateway.heartbeat();
    let ready = GatewayConnectionReadyData {
        heartbeat_interval: go_duration(heartbeat),
        extend_lease_interval: go_duration(s.gateway.lease() / 4),
        status_interval: "0s".into(),
    };
    if socket
        .send(frame(GatewayMessageType::GatewayConnectionReady, &ready))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<ConnectMessage>();
    let conn = connect.connection_id.clone();
    for app in &connect.apps {
        if !s
            .gateway
            .add(&app.app_name, &conn, &connect.instance_id, tx.clone())
        {
            // The server stopped during the handshake: the worker goes elsewhere rather than
            // stay on a gateway that no longer runs anything.
            s.gateway.remove(&conn);
            let goodbye = async {
                socket
                    .send(bare(GatewayMessageType::GatewayClosing))
                    .await?;
                socket.send(Frame::Close(None)).await
            };
            let _ = tokio::time::timeout(CLOSING_WRITE, goodbye).await;
            return;
        }
    }
    tracing::info!(instance = %connect.instance_id, apps = connect.apps.len(), "a connect worker joined");
    // Only heartbeats count: a worker that replies but no longer heartbeats is dropped too.
    let silence = heartbeat.saturating_mul(MISSED_HEARTBEATS);
    let mut last_heartbeat = tokio::time::Instant::now();
    let mut check = tokio::time::interval(heartbeat);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = check.tick() => {
                if last_heartbeat.elapsed() > silence {
                    tracing::warn!(instance = %connect.instance_id, missed = MISSED_HEARTBEATS, "a connect worker missed its heartbeats; dropped");
                    break;
                }
            }
            incoming = next(&mut socket) => {
                let m = match incoming {
                    Ok(m) => m,
                    Err(why) => {
                        tracing::info!(instance = %connect.instance_id, %why, "a connect worker left");
                        break;
                    }
                };
                let answer = match m.kind() {
                    GatewayMessageType::WorkerHeartbeat => {
                        last_heartbeat = tokio::time::Instant::now();
                        Some(bare(GatewayMessageType::GatewayHeartbeat))
                    }
                    GatewayMessageType::WorkerRequestAck => {
                        if let Ok(ack) = m.payload_as::<WorkerRequestAckData>() {
                            s.gateway.acknowledged(&ack.request_id);
                        }
                        None
                    }
                    GatewayMessageType::WorkerPause => {
                        s.gateway.pause(&conn);
                        None
                    }
                    GatewayMessageType::WorkerRequestExtendLease => {
                        m.payload_as::<WorkerRequestExtendLeaseData>().ok().map(|l| {
                            // No new lease for a lease that is not the request's any more.
                            let new_lease_id = s.gateway.extend(&l.request_id, &l.lease_id);
                            frame(
                                GatewayMessageType::WorkerRequestExtendLeaseAck,
                                &WorkerRequestExtendLeaseAckData {
                                    request_id: l.request_id,
                                    account_id: l.account_id,
                                    env_id: l.env_id,
                                    app_id: l.app_id,
                                    function_slug: l.function_slug,
                                    new_lease_id,
                                },
                            )
                        })
                    }
                    GatewayMessageType::WorkerReply => match m.payload_as::<SdkResponse>() {
                        Ok(reply) => {
                            let ack = WorkerReplyAckData { request_id: reply.request_id.clone() };
                            if s.gateway.reply(reply) {
                                // The run goes on first (its call's waiter runs on this thread
                                // next); the acknowledgement only lets the worker forget it.
                                tokio::task::yield_now().await;
                            }
                            Some(frame(GatewayMessageType::WorkerReplyAck, &ack))
                        }
                        Err(_) => None,
                    },
                    _ => None,
                };
                if let Some(answer) = answer {
                    if let Err(e) = write(&mut socket, answer, &mut rx, silence).await {
                        tracing::warn!(instance = %connect.instance_id, error = %crate::error_chain(&e), "a connect worker could not be written to; dropped");
                        break;
                    }
                }
            }
            Some(out) = rx.recv() => {
                if let Err(e) = write(&mut socket, encoded(&out), &mut rx, silence).await {
                    tracing::warn!(instance = %connect.instance_id, error = %crate::error_chain(&e), "a connect worker could not be written to; dropped");
                    break;
                }
            }
            changed = closed.changed() => {
                if changed.is_err() || *closed.borrow() {
                    // The server stops: what is queued (its GATEWAY_CLOSING) goes out and the
                    // socket closes, so that no worker stays on a server that is gone.
                    // A worker that reads nothing more gets a second, not a session for good.
                    let goodbye = async {
                        if let Ok(out) = rx.try_recv() {
                            write(&mut socket, encoded(&out), &mut rx, CLOSING_WRITE).await?;
                        }
                        socket.send(Frame::Close(None)).await.map_err(WriteError::Socket)
                    };
                    let _ = tokio::time::timeout(CLOSING_WRITE, goodbye).await;
                    tracing::info!(instance = %connect.instance_id, "the gateway closed; the connect worker was let go");
                    break;
                }
            }
        }
    }
    s.gateway.remove(&conn);
}

#[cfg(test)]
mod tests {
    use axum::extract::State;

    /// Once the gateway is closed (the server stops), the start API sends the worker
    /// elsewhere with a JSON 503 instead of handing out a connection to a server that is going.
    #[tokio::test]
    async fn start_answers_503_once_the_gateway_is_closed() {
        let clock = crate::clock::Clock::default();
        let gateway = crate::gateway::Gateway::default();
        let (engine, task) = crate::engine::Engine::spawn(
            clock.clone(),
            crate::store::Store::open(None).expect("a store"),
            crate::engine::EngineOptions::for_tests(),
            gateway.clone(),
            crate::in_process::InProcessApps::default(),
        )
        .expect("the engine starts");
        let shared = super::Shared {
            engine,
            clock: clock.clone(),
            syncer: crate::sync::AppSyncer::new(),
            sync_log: crate::sync::SyncLog::new(clock),
            allowed_hosts: Vec::new(),
            gateway: gateway.clone(),
            url: "http://127.0.0.1:8288".into(),
        };
        let open = super::start(State(shared.clone())).await;
        assert_eq!(open.status(), 200);
        gateway.close_all();
        let closed = super::start(State(shared)).await;
        assert_eq!(closed.status(), 503);
        let body = axum::body::to_bytes(closed.into_body(), 4096)
            .await
            .expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["error"], "the dev server is stopping");
        task.abort();
    }
}
