//! The requests in flight, which outlive the connection they came on: a request keeps running
//! when its socket breaks or its gateway closes, extends its lease and sends its reply over
//! whichever connection is up at the time, and, when none is or the gateway does not
//! acknowledge the reply within 5 s, delivers it through the flush API instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prost::Message as _;
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::client::Inngest;
use crate::protocol::connect::*;
use crate::protocol::headers;

/// How long a reply waits for `WORKER_REPLY_ACK` before it goes through the flush API.
const REPLY_ACK: Duration = Duration::from_secs(5);
/// Flush attempts before a reply is given up (the gateway's lease runs out, and the executor
/// retries the request).
const FLUSH_ATTEMPTS: u32 = 5;

/// What the connection tells a request.
pub(super) enum ToRequest {
    LeaseAck(Option<String>),
    ReplyAck,
}

/// A message as a binary WebSocket frame.
pub(super) fn frame(message: &ConnectMessage) -> Frame {
    Frame::Binary(message.encode_to_vec().into())
}

/// The requests in flight and the connection they talk over now. Shared by the worker, each
/// connection and each request.
pub(super) struct Flight {
    /// The writer of the connection that is up, if one is.
    link: watch::Sender<Option<mpsc::Sender<Frame>>>,
    /// Each request's inbox, by request id.
    requests: Mutex<HashMap<String, mpsc::Sender<ToRequest>>>,
    /// Notified whenever a request ends.
    ended: Notify,
}

impl Flight {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            link: watch::channel(None).0,
            requests: Mutex::default(),
            ended: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, mpsc::Sender<ToRequest>>> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection is up (`Some`, its writer) or down (`None`).
    pub fn link(&self, writer: Option<mpsc::Sender<Frame>>) {
        self.link.send_replace(writer);
    }

    /// How many requests are in flight.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether request `id` is in flight already (a gateway sending it twice).
    pub fn contains(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// Passes a gateway's message to the request it is about.
    pub fn tell(&self, request_id: &str, what: ToRequest) {
        if let Some(tx) = self.lock().get(request_id) {
            let _ = tx.try_send(what);
        }
    }

    /// Resolves once no request is in flight.
    pub async fn idle(&self) {
        loop {
            let ended = self.ended.notified();
            if self.len() == 0 {
                return;
            }
            ended.await;
        }
    }

    /// Registers request `req`; the task that runs it.
    pub fn admit(
        self: &Arc<Self>,
        req: GatewayExecutorRequestData,
        handler: crate::serve::ServeHandler,
        lease_every: Duration,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (tx, rx) = mpsc::channel(8);
        self.lock().insert(req.request_id.clone(), tx);
        let task = RequestTask {
            flight: Admitted {
                flight: self.clone(),
                id: req.request_id.clone(),
            },
            link: self.link.subscribe(),
            events: rx,
            lease_every,
        };
        task.run(handler, req)
    }
}

/// A request's place in the flight, given up when its task ends (or is aborted).
struct Admitted {
    flight: Arc<Flight>,
    id: String,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.flight.lock().remove(&self.id);
        self.flight.ended.notify_waiters();
    }
}

/// One executor request: acknowledged, run, its lease extended meanwhile, and its reply
/// delivered.
struct RequestTask {
    flight: Admitted,
    link: watch::Receiver<Option<mpsc::Sender<Frame>>>,
    events: mpsc::Receiver<ToRequest>,
    lease_every: Duration,
}

impl RequestTask {
    /// Sends over the connection that is up; false if none is.
    async fn send(&self, message: &ConnectMessage) -> bool {
        let writer = self.link.borrow().clone();
        match writer {
            Some(w) => w.send(frame(message)).await.is_ok(),
            None => false,
        }
    }

    async fn run(
        mut self,
        handler: crate::serve::ServeHandler,
        mut req: GatewayExecutorRequestData,
    ) {
        let ack = WorkerRequestAckData {
            request_id: req.request_id.clone(),
            account_id: req.account_id.clone(),
            env_id: req.env_id.clone(),
            app_id: req.app_id.clone(),
            function_slug: req.function_slug.clone(),
            step_id: req.step_id.clone(),
            system_trace_ctx: req.system_trace_ctx.clone(),
            user_trace_ctx: req.user_trace_ctx.clone(),
            run_id: req.run_id.clone(),
        };
        self.send(&ConnectMessage::of(
            GatewayMessageType::WorkerRequestAck,
            &ack,
        ))
        .await;

        let execution = handler.execute_in_process(
            &req.function_slug,
            req.step_id.as_deref(),
            bytes::Bytes::from(std::mem::take(&mut req.request_payload)),
        );
        tokio::pin!(execution);
        let mut lease = Some(req.lease_id.clone());
        let mut extend = tokio::time::interval_at(
            tokio::time::Instant::now() + self.lease_every,
            self.lease_every,
        );
        // A step that holds the thread past a tick gets one extension after it, not a burst
        // naming the same lease.
        extend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let extension = |lease: &str| {
            let msg = WorkerRequestExtendLeaseData {
                request_id: ack.request_id.clone(),
                account_id: ack.account_id.clone(),
                env_id: ack.env_id.clone(),
                app_id: ack.app_id.clone(),
                function_slug: ack.function_slug.clone(),
                step_id: ack.step_id.clone(),
                system_trace_ctx: ack.system_trace_ctx.clone(),
                user_trace_ctx: ack.user_trace_ctx.clone(),
                run_id: ack.run_id.clone(),
                lease_id: lease.to_string(),
            };
            ConnectMessage::of(GatewayMessageType::WorkerRequestExtendLease, &msg)
        };
        let response = loop {
            tokio::select! {
                response = &mut execution => break response,
                _ = extend.tick(), if lease.is_some() => {
                    // With no connection up the extension waits for the next tick, or for the
                    // connection to come back.
                    self.send(&extension(lease.as_deref().unwrap_or_default())).await;
                }
                Ok(()) = self.link.changed(), if lease.is_some() => {
                    // A new connection is up: the lease may have gone unextended while there
                    // was none, so it is extended at once rather than at the next tick.
                    if self.link.borrow_and_update().is_some()
                        && self.send(&extension(lease.as_deref().unwrap_or_default())).await
                    {
                        extend.reset();
                    }
                }
                Some(event) = self.events.recv() => {
                    if let ToRequest::LeaseAck(new) = event {
                        if new.is_none() {
                            tracing::warn!(request = %ack.request_id, "the lease was lost; the gateway may give the request to another worker");
                        }
                        lease = new;
                    }
                }
            }
        };
        let reply = sdk_response(&req, &response);
        self.deliver(handler.app().client(), reply).await;
        drop(self.flight);
    }

    /// Sends the reply over the socket and waits for its acknowledgement; without a socket, or
    /// without an acknowledgement in [`REPLY_ACK`], flushes it through the API.
    async fn deliver(&mut self, client: &Inngest, reply: SdkResponse) {
        let message = ConnectMessage::of(GatewayMessageType::WorkerReply, &reply);
        if self.send(&message).await {
            let acked = tokio::time::timeout(REPLY_ACK, async {
                while let Some(event) = self.events.recv().await {
                    if let ToRequest::ReplyAck = event {
                        return true;
                    }
                }
                false
            })
            .await;
            if matches!(acked, Ok(true)) {
                return;
            }
            tracing::debug!(request = %reply.request_id, "no WORKER_REPLY_ACK; flushing the reply");
        }
        for attempt in 0..FLUSH_ATTEMPTS {
            match super::api::flush(client, &reply).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(request = %reply.request_id, attempt, error = %crate::error::chain(&e), "the reply could not be flushed");
                    tokio::time::sleep(super::backoff(attempt as usize)).await;
                }
            }
        }
        tracing::error!(request = %reply.request_id, "the reply was not delivered; the executor retries the request once its lease runs out");
    }
}

/// The reply for serve mode's answer.
fn sdk_response(
    req: &GatewayExecutorRequestData,
    resp: &http::Response<bytes::Bytes>,
) -> SdkResponse {
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
    let status = match resp.status().as_u16() {
        200 => SdkResponseStatus::Done,
        206 => SdkResponseStatus::NotCompleted,
        _ => SdkResponseStatus::Error,
    };
    SdkResponse {
        request_id: req.request_id.clone(),
        account_id: req.account_id.clone(),
        env_id: req.env_id.clone(),
        app_id: req.app_id.clone(),
        status: status as i32,
        body: resp.body().to_vec(),
        no_retry: header(headers::NO_RETRY) == Some("true"),
        retry_after: header(headers::RETRY_AFTER).map(str::to_string),
        sdk_version: headers::sdk_header_value(),
        request_version: header(headers::REQ_VERSION)
            .and_then(|v| v.parse().ok())
            .unwrap_or(2),
        system_trace_ctx: req.system_trace_ctx.clone(),
        user_trace_ctx: req.user_trace_ctx.clone(),
        run_id: req.run_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{App, Context, Event, Workflow, WorkflowError, WorkflowOptions};

    #[derive(serde::Serialize, serde::Deserialize)]
    #[cfg_attr(feature = "validate", derive(garde::Validate))]
    struct SlowRequested {}
    impl Event for SlowRequested {
        const NAME: &'static str = "test/slow.requested";
    }

    /// A step that outlasts the test.
    struct Slow;
    impl Workflow for Slow {
        type Event = SlowRequested;
        type Output = u32;
        fn options() -> WorkflowOptions {
            WorkflowOptions::new("slow")
        }
        async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
            ctx.step
                .run("slow", async {
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    Ok(1)
                })
                .await
        }
    }

    /// A request whose connection broke extends its lease as soon as a connection is up again,
    /// not at its next tick: the lease may have gone unextended while there was none.
    #[tokio::test]
    async fn a_lease_is_extended_as_soon_as_a_connection_is_back() {
        let app = App::builder(Inngest::new("test"))
            .register(Slow)
            .build()
            .expect("an app");
        let event =
            serde_json::json!({"name": SlowRequested::NAME, "data": {}, "id": "e1", "ts": 1});
        let body = serde_json::json!({
            "event": event, "events": [event], "steps": {},
            "ctx": {"run_id": "r1", "attempt": 0, "stack": {"stack": [], "current": 0}},
            "version": 2,
        });
        let req = GatewayExecutorRequestData {
            request_id: "req-1".into(),
            function_slug: "test-slow".into(),
            lease_id: "lease-1".into(),
            step_id: Some("step".into()),
            request_payload: serde_json::to_vec(&body).expect("JSON"),
            ..Default::default()
        };
        let flight = Flight::new();
        // No connection is up (its acknowledgement is lost), and the next tick is 10 min away.
        let request = tokio::spawn(flight.admit(
            req,
            crate::serve::ServeHandler::new(app),
            Duration::from_secs(600),
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(flight.len(), 1, "the request runs its step");

        let (writer, mut written) = mpsc::channel(8);
        flight.link(Some(writer));
        let sent = tokio::time::timeout(Duration::from_secs(5), written.recv())
            .await
            .expect("a frame within 5 s")
            .expect("the writer is open");
        let Frame::Binary(bytes) = sent else {
            panic!("a binary frame, not {sent:?}");
        };
        let message = ConnectMessage::decode(bytes.as_ref()).expect("a connect message");
        assert_eq!(message.kind(), GatewayMessageType::WorkerRequestExtendLease);
        let extension: WorkerRequestExtendLeaseData = message.payload_as().expect("its payload");
        assert_eq!(
            (extension.request_id.as_str(), extension.lease_id.as_str()),
            ("req-1", "lease-1")
        );
        request.abort();
    }
}
