//! One connection to a gateway: the handshake, then requests, heartbeats and leases until the
//! connection ends, the gateway closes, or the worker shuts down. The requests themselves
//! live in the [`Flight`], beyond any one connection.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::flight::{Flight, ToRequest, frame};
use super::{Worker, WorkerState};
use crate::protocol::connect::*;
use crate::protocol::headers;

/// How a connection ended.
pub(super) enum End {
    /// The worker was asked to stop, and has.
    Shutdown,
    /// The gateway sent `GATEWAY_CLOSING`; the work in flight goes on over the next connection.
    Draining,
    /// The connection broke after the handshake.
    Lost(String),
    /// The handshake (or the start before it) failed.
    Failed(String),
}

/// The handshake's limit, as the JS SDK's.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Heartbeats without an answer that make the connection lost.
const MISSED_HEARTBEATS: u32 = 2;

/// Parses a Go duration as the gateway sends it (`"10s"`, `"500ms"`); `None` for `0s`.
fn go_duration(text: &str) -> Option<Duration> {
    crate::duration::parse(text)
        .ok()
        .or_else(|| {
            text.strip_suffix("ms")?
                .parse()
                .ok()
                .map(Duration::from_millis)
        })
        .filter(|d| !d.is_zero())
}

fn connect_payload(worker: &Worker, gateway: &StartResponse) -> WorkerConnectRequestData {
    let app = worker.handler.app();
    let functions = app.function_configs("wss://connect/", "ws");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    WorkerConnectRequestData {
        connection_id: gateway.connection_id.clone(),
        instance_id: worker.instance_id.clone(),
        auth_data: Some(AuthData {
            session_token: gateway.session_token.clone(),
            sync_token: gateway.sync_token.clone(),
        }),
        capabilities: br#"{"trust_probe":"v1","connect":"v1"}"#.to_vec(),
        apps: vec![AppConfiguration {
            app_name: app.client().app_id().to_string(),
            app_version: None,
            functions: serde_json::to_vec(&functions).unwrap_or_else(|_| b"[]".to_vec()),
            feature_observations: None,
        }],
        worker_manual_readiness_ack: true,
        system_attributes: Some(SystemAttributes {
            cpu_cores: std::thread::available_parallelism()
                .map(|n| i32::try_from(n.get()).unwrap_or(i32::MAX))
                .unwrap_or(1),
            mem_bytes: 0,
            os: std::env::consts::OS.to_string(),
        }),
        environment: app.client().config().env.clone(),
        framework: "connect".into(),
        platform: None,
        sdk_version: format!("v{}", headers::SDK_VERSION),
        sdk_language: headers::SDK_LANGUAGE.into(),
        started_at: Some(Timestamp {
            seconds: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(now.subsec_nanos()).unwrap_or(0),
        }),
        max_worker_concurrency: worker.max_concurrency.map(i64::from),
    }
}

/// Reads the next connect message, skipping pings and text.
async fn next_message<S>(stream: &mut S) -> Result<ConnectMessage, String>
where
    S: futures::Stream<Item = Result<Frame, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(Frame::Binary(bytes))) => {
                return ConnectMessage::decode(bytes.as_ref())
                    .map_err(|e| format!("a frame is not a ConnectMessage: {e}"));
            }
            Some(Ok(Frame::Close(c))) => {
                return Err(format!(
                    "the gateway closed the connection{}",
                    c.map(|c| format!(" ({}: {})", c.code, c.reason))
                        .unwrap_or_default()
                ));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("the connection failed: {e}")),
            None => return Err("the connection ended".into()),
        }
    }
}

pub(super) async fn run(
    worker: &Worker,
    gateway: StartResponse,
    stop: &mut watch::Receiver<bool>,
    flight: &Arc<Flight>,
    requests: &mut tokio::task::JoinSet<()>,
) -> End {
    let mut request = match gateway.gateway_endpoint.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            return End::Failed(format!(
                "bad gateway URL {:?}: {e}",
                gateway.gateway_endpoint
            ));
        }
    };
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
        .read_buffer_size(READ_BUFFER);
    let endpoint = gateway.gateway_endpoint.clone();
    let opened = async {
        // Small frames each way (ACK, reply, lease): without TCP_NODELAY, Nagle's algorithm and
        // delayed ACKs would hold each one back up to 40 ms.
        let dial = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        let socket = match tokio::time::timeout(HANDSHAKE, dial).await {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(e)) => return Err(format!("cannot open {endpoint}: {e}")),
            Err(_) => return Err(format!("{endpoint} did not answer within {HANDSHAKE:?}")),
        };
        let (mut sink, mut stream) = socket.split();
        // The handshake, in its strict order.
        let handshake = async {
            let hello = next_message(&mut stream).await?;
            if hello.kind() != GatewayMessageType::GatewayHello {
                return Err(format!(
                    "the gateway began with {} instead of GATEWAY_HELLO",
                    hello.kind().name()
                ));
            }
            let payload = connect_payload(worker, &gateway);
            sink.send(frame(&ConnectMessage::of(
                GatewayMessageType::WorkerConnect,
                &payload,
            )))
            .await
            .map_err(|e| format!("cannot send WORKER_CONNECT: {e}"))?;
            let ready = next_message(&mut stream).await?;
            match ready.kind() {
                GatewayMessageType::GatewayConnectionReady => ready
                    .payload_as::<GatewayConnectionReadyData>()
                    .map_err(|e| format!("GATEWAY_CONNECTION_READY is malformed: {e}")),
                GatewayMessageType::SyncFailed => {
                    let why = ready.payload_as::<SystemError>().unwrap_or_default();
                    Err(format!(
                        "the gateway could not sync the app: {} ({})",
                        why.message, why.code
                    ))
                }
                other => Err(format!(
                    "the gateway sent {} instead of GATEWAY_CONNECTION_READY",
                    other.name()
                )),
            }
        };
        match tokio::time::timeout(HANDSHAKE, handshake).await {
            Ok(Ok(ready)) => Ok((sink, stream, ready)),
            Ok(Err(why)) => Err(why),
            Err(_) => Err(format!("the handshake took more than {HANDSHAKE:?}")),
        }
    };
    // A shutdown during the dial or the handshake ends it at once when nothing is in flight;
    // with requests in flight (a worker stopping while its socket was down), the connection
    // is still made, paused, to extend their leases and deliver their replies.
    let (mut sink, mut stream, ready) = tokio::select! {
        opened = opened => match opened {
            Ok(parts) => parts,
            Err(why) => return End::Failed(why),
        },
        _ = stop.changed(), if flight.len() == 0 => return End::Shutdown,
    };
    let pausing_from_start = *stop.borrow();
    if pausing_from_start && flight.len() == 0 {
        let _ = sink
            .send(frame(&ConnectMessage::bare(
                GatewayMessageType::WorkerPause,
            )))
            .await;
        return End::Shutdown;
    }
    let first = if pausing_from_start {
        GatewayMessageType::WorkerPause
    } else {
        GatewayMessageType::WorkerReady
    };
    if let Err(e) = sink.send(frame(&ConnectMessage::bare(first))).await {
        return End::Failed(format!("cannot send {}: {e}", first.name()));
    }
    worker.state.send_replace(if pausing_from_start {
        WorkerState::Paused
    } else {
        WorkerState::Active
    });
    tracing::info!(gateway = %gateway.gateway_endpoint, "connected to Inngest");

    let heartbeat_every = go_duration(&ready.heartbeat_interval).unwrap_or(Duration::from_secs(10));
    let lease_every = go_duration(&ready.extend_lease_interval).unwrap_or(Duration::from_secs(5));

    // Every frame goes through one writer, which the requests in flight use while this
    // connection is up.
    let (out_tx, mut out_rx) = mpsc::channel::<Frame>(256);
    let mut writer = AbortOnDrop(tokio::spawn(async move {
        // The frames queued meanwhile go out with one write: a request's acknowledgement and
        // its reply, when the reply was ready before the writer ran, take one syscall.
        while let Some(mut frame) = out_rx.recv().await {
            loop {
                let closing = matches!(frame, Frame::Close(_));
                if sink.feed(frame).await.is_err() || closing {
                    let _ = sink.flush().await;
                    return;
                }
                match out_rx.try_recv() {
                    Ok(next) => frame = next,
                    Err(_) => break,
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    }));
    flight.link(Some(out_tx.clone()));

    let mut heartbeat = tokio::time::interval_at(
        tokio::time::Instant::now() + heartbeat_every,
        heartbeat_every,
    );
    // A turn that held the thread past several ticks sends one heartbeat after it, not a
    // burst that would count as unanswered before the gateway could answer.
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unanswered = 0u32;
    let mut pausing = pausing_from_start;
    let end = loop {
        tokio::select! {
            message = next_message(&mut stream) => {
                let message = match message {
                    Ok(m) => m,
                    Err(why) => break End::Lost(why),
                };
                match message.kind() {
                    GatewayMessageType::GatewayExecutorRequest => {
                        let Ok(req) = message.payload_as::<GatewayExecutorRequestData>() else {
                            tracing::warn!("a malformed executor request was ignored");
                            continue;
                        };
                        if pausing
                            || req.app_name != worker.handler.app().client().app_id()
                            || flight.contains(&req.request_id)
                        {
                            continue;
                        }
                        // On an idle worker the request starts on this turn (the call's
                        // latency); with others in flight it is a task at once, so that
                        // requests run side by side on the runtime's threads.
                        let idle = flight.len() == 0;
                        let request = flight.admit(req, worker.handler.clone(), lease_every);
                        if idle {
                            start_inline(requests, request);
                        } else {
                            requests.spawn(request);
                        }
                    }
                    GatewayMessageType::WorkerReplyAck => {
                        if let Ok(ack) = message.payload_as::<WorkerReplyAckData>() {
                            flight.tell(&ack.request_id, ToRequest::ReplyAck);
                        }
                    }
                    GatewayMessageType::WorkerRequestExtendLeaseAck => {
                        if let Ok(ack) = message.payload_as::<WorkerRequestExtendLeaseAckData>() {
                            flight.tell(&ack.request_id, ToRequest::LeaseAck(ack.new_lease_id));
                        }
                    }
                    GatewayMessageType::GatewayHeartbeat => unanswered = 0,
                    // The work in flight goes on over the next connection (or the flush API).
                    GatewayMessageType::GatewayClosing => break End::Draining,
                    other => tracing::debug!(kind = other.name(), "ignored a frame"),
                }
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
            () = flight.idle(), if pausing => break End::Shutdown,
            _ = heartbeat.tick() => {
                if unanswered >= MISSED_HEARTBEATS {
                    break End::Lost(format!("{unanswered} heartbeats went unanswered"));
                }
                unanswered += 1;
                let _ = out_tx.send(frame(&ConnectMessage::bare(GatewayMessageType::WorkerHeartbeat))).await;
            }
            _ = stop.changed(), if !pausing => {
                pausing = true;
                worker.state.send_replace(WorkerState::Paused);
                let _ = out_tx.send(frame(&ConnectMessage::bare(GatewayMessageType::WorkerPause))).await;
            }
        }
    };
    flight.link(None);
    if let End::Shutdown | End::Draining = end {
        let close = tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "WORKER_SHUTDOWN".into(),
        };
        let _ = out_tx.send(Frame::Close(Some(close))).await;
    }
    drop(out_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer.0).await;
    end
}

/// Starts a request on the reader's own turn, and makes it a task only if it has to wait.
///
/// A request acknowledges, runs its handler and queues its reply; a replay with nothing that
/// waits on I/O gets that far without waiting, and only its wait for `WORKER_REPLY_ACK` is
/// left. Polling the request once here spares its reply the hand-over to a new task on the
/// critical path of the call. The first poll has a waker that does nothing: whatever it left
/// pending is polled again, with the task's own waker, once the task is spawned, since tokio
/// polls every new task.
///
/// The reader uses it only when no other request is in flight, so requests never queue
/// behind each other's synchronous work. A panic in the first poll ends this request alone,
/// as it would end its task: the request is dropped (leaving the flight), the panic is logged,
/// and the gateway gives the request to a worker again once its lease runs out.
fn start_inline<F>(requests: &mut tokio::task::JoinSet<()>, request: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let mut request = Box::pin(request);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        request.as_mut().poll(&mut cx)
    }));
    match polled {
        Ok(std::task::Poll::Pending) => {
            requests.spawn(request);
        }
        Ok(std::task::Poll::Ready(())) => {}
        Err(payload) => {
            let why = crate::error::panic_message(payload);
            tracing::error!(panic = %why, "a request panicked; it is retried once its lease runs out");
        }
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::start_inline;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn a_request_that_never_waits_ends_on_the_readers_turn() {
        let mut requests = tokio::task::JoinSet::new();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        start_inline(
            &mut requests,
            async move { flag.store(true, Ordering::SeqCst) },
        );
        assert!(
            done.load(Ordering::SeqCst),
            "ran before start_inline returned"
        );
        assert!(requests.is_empty(), "no task was made for it");
    }

    #[tokio::test]
    async fn a_request_that_waits_goes_on_as_a_task_and_is_woken() {
        let mut requests = tokio::task::JoinSet::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (out_tx, out_rx) = tokio::sync::oneshot::channel::<u32>();
        start_inline(&mut requests, async move {
            let n = rx.await.unwrap_or(0);
            let _ = out_tx.send(n + 1);
        });
        assert_eq!(requests.len(), 1, "the waiting request became a task");
        // Let the task be polled and wait with its own waker, not the first poll's no-op one.
        tokio::task::yield_now().await;
        tx.send(41).expect("the request is waiting");
        let woken = tokio::time::timeout(std::time::Duration::from_secs(5), out_rx).await;
        assert_eq!(woken.expect("woken within 5 s").expect("the task ran"), 42);
        assert!(requests.join_next().await.is_some_and(|r| r.is_ok()));
    }

    /// What a panicking request holds (its place in the flight) is given back, and the reader
    /// goes on.
    #[tokio::test]
    async fn a_request_that_panics_on_the_readers_turn_ends_alone() {
        struct Place(Arc<AtomicBool>);
        impl Drop for Place {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let mut requests = tokio::task::JoinSet::new();
        let released = Arc::new(AtomicBool::new(false));
        let place = Place(released.clone());
        start_inline(&mut requests, async move {
            let _place = place;
            panic!("a step panicked");
        });
        assert!(released.load(Ordering::SeqCst), "the request was dropped");
        assert!(requests.is_empty());
    }
}
