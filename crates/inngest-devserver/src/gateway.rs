//! The connect gateway: workers that dial in over a WebSocket (`GET /v0/connect`, after
//! `POST /v0/connect/start`), their apps synced from `WORKER_CONNECT`, and executions routed to
//! them instead of over HTTP.
//!
//! A call picks the app's next active worker in turn, sends `GATEWAY_EXECUTOR_REQUEST` and waits
//! for the `WORKER_REPLY`, which is answered with `WORKER_REPLY_ACK`. When no worker is
//! connected nothing runs and no attempt is used up; when the worker goes away mid-call, the
//! attempt fails and is retried, on another worker if there is one.
//!
//! A call is no task of its own: its [`Answer`] is called by the session that reads the reply,
//! or by the gateway's one timer task when the call runs out of time, so a reply reaches the
//! engine with no hop between tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use inngest_runtime::protocol::connect::{
    ConnectMessage, GatewayExecutorRequestData, GatewayMessageType, SdkResponse,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Why a call did not reach a worker, or got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GatewayError {
    /// No worker of the app is connected and active.
    #[error("no connect worker of app {0:?} is connected")]
    NoWorker(String),
    /// The worker went away before it answered.
    #[error("the connect worker went away before it answered")]
    Lost,
    /// It did not answer in time.
    #[error("the connect worker did not answer within {0:?}")]
    Timeout(Duration),
    /// Its lease ran out: it stopped extending it.
    #[error("the connect worker's lease ran out")]
    LeaseExpired,
    /// The worker never acknowledged the request (it was pausing, or its socket was going
    /// away): nothing ran.
    #[error("the connect worker did not acknowledge the request within {0:?}")]
    NotAcknowledged(Duration),
}

/// How long a worker has to acknowledge a request before the call counts as not delivered.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// How long the timer task sleeps at most (it ends within this once the gateway is dropped).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Where a call's outcome goes; called exactly once.
pub(crate) type Answer = Box<dyn FnOnce(Result<SdkResponse, GatewayError>) + Send>;

/// A call waiting for its reply.
struct Pending {
    /// The lease the worker holds now (it names it to extend it).
    lease_id: String,
    /// The one before: an extension that crossed its own acknowledgement names it.
    previous_lease_id: Option<String>,
    /// Whether the worker acknowledged the request (`WORKER_REQUEST_ACK`).
    acked: bool,
    answer: Answer,
    /// When its lease runs out unless extended.
    lease_until: Instant,
    /// When it must have been acknowledged.
    ack_until: Instant,
    /// When the call times out, and after how long.
    deadline: Instant,
    timeout: Duration,
}

impl Pending {
    /// When the timer must look at it next.
    fn due(&self) -> Instant {
        let due = self.lease_until.min(self.deadline);
        if self.acked {
            due
        } else {
            due.min(self.ack_until)
        }
    }

    /// Why it is over at `now`, if it is.
    fn expired(&self, now: Instant, ack_wait: Duration) -> Option<GatewayError> {
        if now >= self.deadline {
            Some(GatewayError::Timeout(self.timeout))
        } else if !self.acked && now >= self.ack_until {
            Some(GatewayError::NotAcknowledged(ack_wait))
        } else if self.lease_until <= now {
            Some(GatewayError::LeaseExpired)
        } else {
            None
        }
    }
}

/// One connected worker.
struct Worker {
    connection_id: String,
    instance_id: String,
    /// Unbounded: what is queued is bounded by the engine's cap of calls in flight per app.
    tx: mpsc::UnboundedSender<ConnectMessage>,
    /// Sent `WORKER_PAUSE`: no new requests.
    paused: bool,
}

#[derive(Default)]
struct State {
    /// Workers by app id, in the order they connected.
    workers: HashMap<String, Vec<Worker>>,
    /// Calls waiting for their reply, by request id.
    pending: HashMap<String, Pending>,
    /// Round-robin position per app.
    next: HashMap<String, usize>,
    /// When the timer task wakes next (`None`: it is not running yet).
    timer_at: Option<Instant>,
}

/// A worker as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConnectedWorker {
    /// The connection id.
    pub connection_id: String,
    /// The worker's instance id.
    pub instance_id: String,
    /// Whether it takes new requests.
    pub active: bool,
}

/// The URL an app synced over connect is registered with: `ws://connect/<app id>`.
pub(crate) fn app_url(app_name: &str) -> String {
    format!("ws://connect/{app_name}")
}

/// How the server reaches an app, by its registered URL: `connect` or `serve`.
pub(crate) fn transport(app_url: &str) -> &'static str {
    if app_url.starts_with("ws://connect/") {
        "connect"
    } else {
        "serve"
    }
}

/// How long a lease lasts unless extended, as the official gateway's.
pub(crate) const LEASE: Duration = Duration::from_secs(20);
/// The heartbeat interval the gateway gives workers, as the official gateway's.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(10);

/// WebSocket sessions open at once, handshakes included. An upgraded connection leaves the
/// HTTP server's connection limit, so sessions have a limit of their own.
pub(crate) const MAX_SESSIONS: usize = 256;

/// The gateway's shared state. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Gateway {
    state: Arc<Mutex<State>>,
    /// One permit per open session.
    sessions: Arc<tokio::sync::Semaphore>,
    /// Set once by [`Gateway::close_all`] (changed under `state`'s lock): no worker joins
    /// after it, and each session ends.
    closed: Arc<tokio::sync::watch::Sender<bool>>,
    /// Wakes the timer task when a call is due before it would wake.
    timer: Arc<tokio::sync::Notify>,
    lease: Duration,
    heartbeat: Duration,
}

impl Default for Gateway {
    fn default() -> Self {
        Self::new(LEASE, HEARTBEAT)
    }
}

impl Gateway {
    /// A gateway whose leases last `lease` and whose workers heartbeat every `heartbeat`
    /// (each at least 100 ms).
    pub fn new(lease: Duration, heartbeat: Duration) -> Self {
        let floor = Duration::from_millis(100);
        Self {
            state: Arc::default(),
            sessions: Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS)),
            closed: Arc::new(tokio::sync::watch::channel(false).0),
            timer: Arc::default(),
            lease: lease.max(floor),
            heartbeat: heartbeat.max(floor),
        }
    }

    /// A place for one more session, held until it ends; `None` when [`MAX_SESSIONS`] are
    /// open.
    pub fn session_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.sessions.clone().try_acquire_owned().ok()
    }

    /// How long a lease lasts.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The heartbeat interval workers are given.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// Extends the lease `lease_id` of `request_id`: the new lease id, or `None` when that is
    /// not the request's lease any more (it ran out, the call was answered, or the lease was
    /// extended already). Any connection may extend it: a worker whose socket broke extends
    /// its leases over its next one, as with the official gateway.
    pub fn extend(&self, request_id: &str, lease_id: &str) -> Option<String> {
        let mut st = self.lock();
        let pending = st.pending.get_mut(request_id)?;
        if pending.lease_id != lease_id && pending.previous_lease_id.as_deref() != Some(lease_id) {
            return None;
        }
        pending.lease_until = tokio::time::Instant::now() + self.lease;
        let new = ulid::Ulid::new().to_string();
        pending.previous_lease_id = Some(std::mem::replace(&mut pending.lease_id, new));
        Some(pending.lease_id.clone())
    }

    /// The worker acknowledged `request_id`: it runs it.
    pub fn acknowledged(&self, request_id: &str) {
        if let Some(p) = self.lock().pending.get_mut(request_id) {
            p.acked = true;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// How long a worker has to acknowledge a request.
    fn ack_wait(&self) -> Duration {
        ACK_WAIT.min(self.lease)
    }

    /// A worker joins `app`; frames for it go to `tx`. False once the gateway is closed: the
    /// worker must go elsewhere.
    #[must_use]
    pub fn add(
        &self,
        app: &str,
        connection_id: &str,
        instance_id: &str,
        tx: mpsc::UnboundedSender<ConnectMessage>,
    ) -> bool {
        let mut st = self.lock();
        if *self.closed.borrow() {
            return false;
        }
        st.workers.entry(app.to_string()).or_default().push(Worker {
            connection_id: connection_id.to_string(),
            instance_id: instance_id.to_string(),
            tx,
            paused: false,
        });
        true
    }

    /// Closes the gateway for good (the server stops): every worker is told
    /// `GATEWAY_CLOSING` (it takes no new requests here, finishes those in flight, and connects
    /// elsewhere), no worker joins after it, and each session ends. A worker whose handshake
    /// was under way is told `GATEWAY_CLOSING` too, instead of joining a server that no longer
    /// runs anything.
    pub fn close_all(&self) {
        let closing = ConnectMessage::bare(GatewayMessageType::GatewayClosing);
        let mut st = self.lock();
        if *self.closed.borrow() {
            return;
        }
        for w in st.workers.values_mut().flatten() {
            w.paused = true;
            let _ = w.tx.send(closing.clone());
        }
        // After the frames: a session that sees the gateway closed finds its GATEWAY_CLOSING
        // queued.
        self.closed.send_replace(true);
    }

    /// Whether [`Gateway::close_all`] was called.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Changes to whether the gateway is closed, for a session to end on.
    pub fn closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// A worker asked for no more requests.
    pub fn pause(&self, connection_id: &str) {
        for w in self.lock().workers.values_mut().flatten() {
            if w.connection_id == connection_id {
                w.paused = true;
            }
        }
    }

    /// A connection is gone. Its calls stay pending until their leases run out: the worker
    /// may only have lost its socket, and then extends them and delivers their replies over its
    /// next connection or the flush API; a worker that is gone for good stops extending, and
    /// its calls are retried once their leases run out. Never two workers at once on a call.
    pub fn remove(&self, connection_id: &str) {
        let mut st = self.lock();
        for list in st.workers.values_mut() {
            list.retain(|w| w.connection_id != connection_id);
        }
        st.workers.retain(|_, list| !list.is_empty());
    }

    /// The reply to a pending call (over any connection, or flushed); whether it was pending.
    pub fn reply(&self, reply: SdkResponse) -> bool {
        let pending = self.lock().pending.remove(&reply.request_id);
        match pending {
            Some(p) => {
                (p.answer)(Ok(reply));
                true
            }
            None => false,
        }
    }

    /// The workers of each app.
    pub fn workers(&self) -> HashMap<String, Vec<ConnectedWorker>> {
        self.lock()
            .workers
            .iter()
            .map(|(app, list)| {
                let shown = list
                    .iter()
                    .map(|w| ConnectedWorker {
                        connection_id: w.connection_id.clone(),
                        instance_id: w.instance_id.clone(),
                        active: !w.paused,
                    })
                    .collect();
                (app.clone(), shown)
            })
            .collect()
    }

    /// Sends `request` to a worker of `app`; `answer` gets its reply, or why there is none
    /// (no worker, the worker gone, no acknowledgement, the lease or `timeout` run out).
    pub fn call(
        &self,
        app: &str,
        request: GatewayExecutorRequestData,
        timeout: Duration,
        answer: Answer,
    ) {
        let now = Instant::now();
        let id = request.request_id.clone();
        let pending = Pending {
            lease_id: request.lease_id.clone(),
            previous_lease_id: None,
            acked: false,
            answer,
            lease_until: now + self.lease,
            ack_until: now + self.ack_wait(),
            deadline: now
                .checked_add(timeout)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
            timeout,
        };
        let frame = ConnectMessage::of(GatewayMessageType::GatewayExecutorRequest, &request);
        let mut st = self.lock();
        let start = st.next.get(app).copied().unwrap_or(0);
        let worker = st.workers.get(app).and_then(|list| {
            let n = list.len();
            (0..n)
                .map(|k| (start + k) % n)
                .find(|&i| !list[i].paused)
                .map(|i| (i, list[i].tx.clone()))
        });
        let Some((i, tx)) = worker else {
            drop(st);
            return (pending.answer)(Err(GatewayError::NoWorker(app.to_string())));
        };
        st.next.insert(app.to_string(), i + 1);
        if tx.send(frame).is_err() {
            drop(st);
            return (pending.answer)(Err(GatewayError::Lost));
        }
        let due = pending.due();
        st.pending.insert(id, pending);
        // The timer runs from the first call on, and is woken only when this call is due before
        // it would look anyway.
        match st.timer_at {
            None => {
                st.timer_at = Some(due);
                tokio::spawn(watch(
                    Arc::downgrade(&self.state),
                    self.timer.clone(),
                    self.ack_wait(),
                ));
            }
            Some(at) if due < at => {
                st.timer_at = Some(due);
                self.timer.notify_one();
            }
            Some(_) => {}
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The gateway's timer: ends the calls whose time ran out (not acknowledged in time, a lease not
/// extended, the call's timeout), then sleeps until the next is due. It ends once the gateway
/// is dropped.
async fn watch(state: Weak<Mutex<State>>, wake: Arc<tokio::sync::Notify>, ack_wait: Duration) {
    loop {
        let woken = wake.notified();
        let Some(state) = state.upgrade() else {
            return;
        };
        let now = Instant::now();
        let (over, next) = {
            let mut st = lock(&state);
            let ended: Vec<(String, GatewayError)> = st
                .pending
                .iter()
                .filter_map(|(id, p)| Some((id.clone(), p.expired(now, ack_wait)?)))
                .collect();
            let over: Vec<(Answer, GatewayError)> = ended
                .into_iter()
                .filter_map(|(id, why)| Some((st.pending.remove(&id)?.answer, why)))
                .collect();
            let next = st
                .pending
                .values()
                .map(Pending::due)
                .min()
                .unwrap_or(now + IDLE_CHECK)
                .min(now + IDLE_CHECK);
            st.timer_at = Some(next);
            (over, next)
        };
        drop(state);
        for (answer, why) in over {
            answer(Err(why));
        }
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = woken => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Once closed (the server stops), a worker whose handshake was under way does not join;
    /// a worker that had joined is told `GATEWAY_CLOSING`, once however often it is closed.
    #[tokio::test]
    async fn a_closed_gateway_takes_no_worker_and_tells_those_it_has_to_go() {
        let gateway = Gateway::default();
        let mut closed = gateway.closed();
        let (tx, mut rx) = mpsc::unbounded_channel();
        assert!(gateway.add("app", "c1", "w1", tx));
        gateway.close_all();
        gateway.close_all();
        assert!(gateway.is_closed());
        assert!(closed.has_changed().expect("the gateway lives") && *closed.borrow_and_update());
        assert_eq!(
            rx.try_recv().map(|m| m.kind()).ok(),
            Some(GatewayMessageType::GatewayClosing)
        );
        assert!(rx.try_recv().is_err(), "told once");
        let (late, _late_rx) = mpsc::unbounded_channel();
        assert!(
            !gateway.add("app", "c2", "w2", late),
            "joined a closed gateway"
        );
        let joined: Vec<String> = gateway
            .workers()
            .into_values()
            .flatten()
            .map(|w| w.connection_id)
            .collect();
        assert_eq!(joined, ["c1"], "only the worker from before the close");
    }
}
