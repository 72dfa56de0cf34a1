//! The engine: one task that owns all run state and applies every change in order.
//!
//! The HTTP layer and the library API talk to it through an [`EngineHandle`]; calls to SDKs
//! run as separate tasks and report back as [`Command::Called`]. The stages of the data path
//! each have a module: [`intake`] (an event arrives: triggers, waits, cancellations),
//! [`flow`] (batching, debounce, rate limit, idempotency, throttle, singleton before a start),
//! [`dispatch`] (due queue items become SDK calls), [`outcome`] (an SDK answer becomes memo
//! entries and new queue items), [`lifecycle`] (runs start and finish), [`cron`]; and
//! [`journal`], what a turn of the loop must tell the store, written when the turn ends.

mod change;
mod cron;
mod dispatch;
mod flow;
mod intake;
mod journal;
mod lifecycle;
mod outcome;
mod queue;
mod trace;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use inngest_runtime::protocol::GeneratorOp;
use inngest_runtime::protocol::sync::RegisterRequest;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::call::CallResult;
use crate::clock::Clock;
use crate::registry::{RegisterError, Registry};
use crate::run::{QueueItem, Run};
use crate::store::{Store, StoreError};
pub use change::Change;
pub use intake::{EventError, InvalidEvent};
pub use trace::{RunTrace, Span, SpanKind, SpanStatus};
pub use view::{AppView, EventView, FailedAttempt, FunctionView, RunSummary, RunView};

/// Engine settings.
#[derive(Debug, Clone)]
pub(crate) struct EngineOptions {
    /// Send `ctx.fn_id`/`qi_id` so v4 SDKs checkpoint.
    pub checkpointing: bool,
    /// A fixed retry delay instead of the backoff table.
    pub retry_interval: Option<Duration>,
    /// SDK calls in flight at most.
    pub max_in_flight: usize,
    /// SDK calls in flight at most to one app.
    pub max_in_flight_per_app: usize,
    /// How long an SDK call may take (the Go driver's 2 h by default).
    pub call_timeout: Duration,
}

#[cfg(test)]
impl EngineOptions {
    /// The dev server's caps, with a short call timeout: for an engine made by a unit test.
    pub fn for_tests() -> Self {
        Self {
            checkpointing: false,
            retry_interval: None,
            max_in_flight: 256,
            max_in_flight_per_app: 32,
            call_timeout: Duration::from_secs(5),
        }
    }
}

/// What the engine is asked to do.
pub(crate) enum Command {
    SendEvents(Vec<Value>, oneshot::Sender<Result<Vec<String>, EventError>>),
    Register(
        Box<RegisterRequest>,
        oneshot::Sender<Result<bool, RegisterError>>,
    ),
    Checkpoint {
        run_id: String,
        steps: Vec<GeneratorOp>,
        reply: oneshot::Sender<Result<(), CheckpointError>>,
    },
    Advance(
        Duration,
        oneshot::Sender<Result<(), crate::clock::ClockError>>,
    ),
    Run(String, oneshot::Sender<Option<RunView>>),
    EventRuns(String, oneshot::Sender<Vec<RunView>>),
    Event(String, oneshot::Sender<Option<Value>>),
    /// Received events, newest first.
    Events(EventFilter, oneshot::Sender<Vec<EventView>>),
    /// A run with its timeline.
    Trace(String, oneshot::Sender<Option<RunTrace>>),
    /// Starts a new run of a run's function with its events; the new run's id.
    Rerun(String, oneshot::Sender<Option<String>>),
    Apps(oneshot::Sender<Vec<AppView>>),
    Cancel(String, oneshot::Sender<bool>),
    /// Answered once no call is in flight and nothing is due (see [`EngineHandle::settled`]).
    Settle(oneshot::Sender<()>),
    /// When the next queue item is due, in ms, with or without cron ticks.
    NextDue(bool, oneshot::Sender<Option<i64>>),
    /// A run's memo, by hashed step id.
    Memo(
        String,
        oneshot::Sender<Option<serde_json::Map<String, Value>>>,
    ),
    /// Starts a run of a cron function as its next tick would; the run id.
    FireCron(String, oneshot::Sender<Option<String>>),
    /// Starts a run of a function with this data, as an invoke would; the run id.
    Invoke(
        String,
        serde_json::Map<String, Value>,
        oneshot::Sender<Result<Option<String>, EventError>>,
    ),
    /// The newest runs matching a filter.
    FindRuns(RunFilter, oneshot::Sender<Vec<RunView>>),
    /// How many runs match a filter (its cursor and limit aside).
    CountRuns(RunFilter, oneshot::Sender<u64>),
    /// Panics inside the engine: how the tests stand in for a bug.
    #[cfg(test)]
    Crash,
    /// An SDK call ended; `slots` are the concurrency slots it held.
    Called {
        item: Box<QueueItem>,
        slots: Vec<String>,
        result: Box<CallResult>,
        /// When it was sent, in ms of the server's clock.
        sent_ms: i64,
    },
}

/// At most this many commands share a turn of the engine loop.
const TURN_COMMANDS: usize = 64;

impl Command {
    /// Whether it reads the store (finished runs and events live only there).
    fn reads_store(&self) -> bool {
        match self {
            Command::Run(..)
            | Command::EventRuns(..)
            | Command::Event(..)
            | Command::Events(..)
            | Command::Trace(..)
            | Command::Rerun(..)
            | Command::Memo(..)
            | Command::FindRuns(..)
            | Command::CountRuns(..) => true,
            Command::SendEvents(..)
            | Command::Register(..)
            | Command::Checkpoint { .. }
            | Command::Advance(..)
            | Command::Apps(..)
            | Command::Cancel(..)
            | Command::Settle(..)
            | Command::NextDue(..)
            | Command::FireCron(..)
            | Command::Invoke(..)
            | Command::Called { .. } => false,
            #[cfg(test)]
            Command::Crash => false,
        }
    }
}

/// Which runs [`EngineHandle::find_runs`] returns: the newest `limit` (at most 1,000), of one
/// function, with one status, older than a cursor and started in a time range when given.
///
/// ```
/// let failed_today = inngest_devserver::RunFilter {
///     status: Some(inngest_devserver::RunStatus::Failed),
///     from_ms: Some(1_764_633_600_000),
///     ..Default::default()
/// };
/// # let _ = failed_today;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// A function's composite id.
    pub function_id: Option<String>,
    /// `Running`, `Completed`, `Failed` or `Cancelled`.
    pub status: Option<crate::RunStatus>,
    /// How many (default 50).
    pub limit: Option<usize>,
    /// Only runs older than this run id: the last id of a page gives the next one.
    pub before: Option<String>,
    /// Started at or after, in Unix ms of the server's clock.
    pub from_ms: Option<i64>,
    /// Started before, in Unix ms of the server's clock.
    pub to_ms: Option<i64>,
}

impl RunFilter {
    /// `with` given the store's query for this filter (the store's `count_runs` ignores its
    /// cursor and limit).
    fn query<T>(&self, with: impl FnOnce(crate::store::RunQuery<'_>) -> T) -> T {
        let status = self.status.map(|s| format!("{s:?}"));
        with(crate::store::RunQuery {
            function_id: self.function_id.as_deref(),
            status: status.as_deref(),
            before: self.before.as_deref(),
            from_ms: self.from_ms,
            to_ms: self.to_ms,
            limit: self.limit.unwrap_or(50).clamp(1, 1000),
        })
    }
}

/// Which events [`EngineHandle::events`] returns: the newest `limit` (at most 1,000, default
/// 50), named `name` and older than the cursor `before` when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// An event name.
    pub name: Option<String>,
    /// The `cursor` of the last event of the previous page.
    pub before: Option<i64>,
    /// How many (default 50).
    pub limit: Option<usize>,
}

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// No such run.
    #[error("run {0:?} not found")]
    UnknownRun(String),
    /// The server stopped.
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

/// Why the clock was not moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdvanceError {
    /// It would pass the year 9999.
    #[error(transparent)]
    TooFar(#[from] crate::clock::ClockError),
    /// The server stopped.
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

/// The engine is gone (the server stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the dev server has stopped")]
pub struct Stopped;

/// A cheap handle to the engine task.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    finished: tokio::sync::broadcast::Sender<RunView>,
    failed_attempts: tokio::sync::broadcast::Sender<FailedAttempt>,
    /// Weak, so the channel closes (and streams end) when the engine task ends.
    changes: tokio::sync::broadcast::WeakSender<Change>,
}

impl EngineHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Accepts a batch of events (filling `id` and `ts`), all or none; returns their ids.
    pub async fn send_events(&self, events: Vec<Value>) -> Result<Vec<String>, EventError> {
        self.ask(|r| Command::SendEvents(events, r)).await?
    }

    /// Registers an app's functions, as `POST /fn/register` does; returns whether anything
    /// changed.
    pub async fn register(&self, sync: RegisterRequest) -> Result<bool, RegisterError> {
        self.ask(|r| Command::Register(Box::new(sync), r)).await?
    }

    /// Folds steps a v4 SDK ran inline into a run's memo, as `POST /v1/checkpoint/{run}/async`
    /// does.
    pub async fn checkpoint(
        &self,
        run_id: String,
        steps: Vec<GeneratorOp>,
    ) -> Result<(), CheckpointError> {
        self.ask(|reply| Command::Checkpoint {
            run_id,
            steps,
            reply,
        })
        .await?
    }

    /// Moves the clock forward and runs whatever became due.
    pub async fn advance(&self, by: Duration) -> Result<(), AdvanceError> {
        Ok(self.ask(|r| Command::Advance(by, r)).await??)
    }

    /// A run.
    pub async fn run(&self, id: String) -> Result<Option<RunView>, Stopped> {
        self.ask(|r| Command::Run(id, r)).await
    }

    /// The runs an event started.
    pub async fn event_runs(&self, event_id: String) -> Result<Vec<RunView>, Stopped> {
        self.ask(|r| Command::EventRuns(event_id, r)).await
    }

    /// A received event.
    pub async fn event(&self, id: String) -> Result<Option<Value>, Stopped> {
        self.ask(|r| Command::Event(id, r)).await
    }

    /// The 100 newest runs and events, newest first.
    pub async fn recent(&self) -> Result<(Vec<RunView>, Vec<Value>), Stopped> {
        let runs = self
            .find_runs(RunFilter {
                limit: Some(100),
                ..Default::default()
            })
            .await?;
        let events = self
            .events(EventFilter {
                limit: Some(100),
                ..Default::default()
            })
            .await?;
        Ok((runs, events.into_iter().map(|e| e.event).collect()))
    }

    /// Received events, newest first, each with the runs it started.
    pub async fn events(&self, filter: EventFilter) -> Result<Vec<EventView>, Stopped> {
        self.ask(|r| Command::Events(filter, r)).await
    }

    /// A run with its trigger and its steps and attempts as spans on a time axis.
    pub async fn trace(&self, run_id: String) -> Result<Option<RunTrace>, Stopped> {
        self.ask(|r| Command::Trace(run_id, r)).await
    }

    /// Starts a new run of `run_id`'s function with the events that started it (flow control
    /// and deduplication aside, as Inngest's Rerun does); the new run's id, `None` if there is
    /// no such run or its function is gone.
    pub async fn rerun(&self, run_id: String) -> Result<Option<String>, Stopped> {
        self.ask(|r| Command::Rerun(run_id, r)).await
    }

    /// How many runs match `filter` (its `before` and `limit` aside).
    pub async fn count_runs(&self, filter: RunFilter) -> Result<u64, Stopped> {
        self.ask(|r| Command::CountRuns(filter, r)).await
    }

    /// Every change from now on (a slow receiver gets `Lagged` and should read afresh); the
    /// receiver's `recv` answers `Closed` once the server stops.
    pub fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<Change> {
        match self.changes.upgrade() {
            Some(sender) => sender.subscribe(),
            // Already stopped: a receiver of a closed channel.
            None => tokio::sync::broadcast::channel(1).1,
        }
    }

    /// Synced apps and their functions.
    pub async fn apps(&self) -> Result<Vec<AppView>, Stopped> {
        self.ask(Command::Apps).await
    }

    /// Every run that finishes from now on (a slow receiver may miss some: it gets `Lagged`).
    pub fn subscribe_finished(&self) -> tokio::sync::broadcast::Receiver<RunView> {
        self.finished.subscribe()
    }

    /// Every failed attempt from now on: retried or final, of a step or of the function (a
    /// slow receiver may miss some: it gets `Lagged`).
    pub fn subscribe_failed_attempts(&self) -> tokio::sync::broadcast::Receiver<FailedAttempt> {
        self.failed_attempts.subscribe()
    }

    /// Makes the engine panic (tests of what a bug does to the server).
    #[cfg(test)]
    pub(crate) async fn crash(&self) {
        let _ = self.tx.send(Command::Crash).await;
    }

    /// Resolves once no SDK call is in flight and nothing is due at the clock's time: what
    /// has been sent has run as far as it can without the clock moving. A test engine's idea of
    /// "done for now".
    pub async fn settled(&self) -> Result<(), Stopped> {
        self.ask(Command::Settle).await
    }

    /// When the next queue item (a sleep's end, a timeout, a retry) is due, in Unix ms, and,
    /// `with_crons`, the next cron tick if it comes first.
    pub async fn next_due_ms(&self, with_crons: bool) -> Result<Option<i64>, Stopped> {
        self.ask(|r| Command::NextDue(with_crons, r)).await
    }

    /// A run's memo: each step's memoized value by hashed id.
    pub async fn memo(
        &self,
        run_id: String,
    ) -> Result<Option<serde_json::Map<String, Value>>, Stopped> {
        self.ask(|r| Command::Memo(run_id, r)).await
    }

    /// Starts a run of `function_id` with `data`, as `step.invoke` from no parent would (an
    /// `inngest/function.invoked` event); the run id, `None` if there is no such function.
    ///
    /// # Errors
    ///
    /// [`EventError::Invalid`] when the event it makes is not one the event API would take
    /// (over its size limit, say), [`EventError::Stopped`] once the server has stopped.
    pub async fn invoke(
        &self,
        function_id: String,
        data: serde_json::Map<String, Value>,
    ) -> Result<Option<String>, EventError> {
        self.ask(|r| Command::Invoke(function_id, data, r)).await?
    }

    /// The newest runs that match `filter`, newest first.
    pub async fn find_runs(&self, filter: RunFilter) -> Result<Vec<RunView>, Stopped> {
        self.ask(|r| Command::FindRuns(filter, r)).await
    }

    /// Starts a run of cron function `function_id` as its next tick would (an
    /// `inngest/scheduled.timer` event); the run's id, `None` if it has no cron trigger.
    pub async fn fire_cron(&self, function_id: String) -> Result<Option<String>, Stopped> {
        self.ask(|r| Command::FireCron(function_id, r)).await
    }

    /// Cancels a running run; false if it was not running.
    pub async fn cancel(&self, run_id: String) -> Result<bool, Stopped> {
        self.ask(|r| Command::Cancel(run_id, r)).await
    }
}

pub(crate) struct Engine {
    clock: Clock,
    store: Store,
    registry: Registry,
    /// The runs still running, by id (ULIDs, so in the order they started). A run that ends
    /// is saved and dropped from memory; the API reads finished runs from the store.
    runs: BTreeMap<String, Run>,
    /// The runs that wait for an event, by its name (entries may be stale; checked on use).
    waits_by_event: HashMap<String, std::collections::HashSet<String>>,
    /// Ids of the runs still running (events are matched against these only).
    running: std::collections::HashSet<String>,
    /// Due work, ordered by time then id.
    queue: queue::Queue,
    /// In-flight calls per concurrency slot (see `ConcurrencyLimit::slot`).
    in_flight: HashMap<String, usize>,
    in_flight_total: usize,
    crons: Vec<cron::CronEntry>,
    flow: flow::FlowState,
    /// Wait conditions, compiled once.
    exprs: crate::expr::ExprCache,
    /// Event ids received in the last 24 hours (by id, and in the order received).
    received: HashMap<String, i64>,
    received_order: std::collections::VecDeque<(i64, String)>,
    http: reqwest::Client,
    tx: mpsc::Sender<Command>,
    finished: tokio::sync::broadcast::Sender<RunView>,
    failed_attempts: tokio::sync::broadcast::Sender<FailedAttempt>,
    changes: tokio::sync::broadcast::Sender<Change>,
    /// Where calls to connect apps go.
    gateway: crate::gateway::Gateway,
    /// Apps in this process, called without HTTP.
    in_process: crate::in_process::InProcessApps,
    /// Waiting for [`Command::Settle`].
    settle_waiters: Vec<oneshot::Sender<()>>,
    /// Run ids: ULIDs that grow even within a millisecond, so id order is start order.
    run_ids: ulid::Generator,
    /// The call that offered checkpointing in flight for each run (its queue item, attempt,
    /// when it was due and sent, in ms): the steps a v4 SDK checkpoints meanwhile belong to it.
    calls: HashMap<String, (String, u32, i64, i64)>,
    /// The store writes of this turn of the loop.
    journal: journal::Journal,
    /// Answers sent at the end of the turn (see [`Engine::answer`]).
    answers: Vec<Box<dyn FnOnce() + Send>>,
    /// Whether an SDK call started since the last write (it goes out before the next one).
    call_started: bool,
    /// Queue items made so far (a tick looks again when its pass made some).
    enqueued: u64,
    options: EngineOptions,
}

impl Engine {
    /// Loads the stored state and starts the engine task.
    pub(crate) fn spawn(
        clock: Clock,
        store: Store,
        options: EngineOptions,
        gateway: crate::gateway::Gateway,
        in_process: crate::in_process::InProcessApps,
    ) -> Result<(EngineHandle, tokio::task::JoinHandle<()>), StoreError> {
        let (tx, rx) = mpsc::channel(1024);
        let (finished, _) = tokio::sync::broadcast::channel(4096);
        let (failed_attempts, _) = tokio::sync::broadcast::channel(1024);
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        let weak_changes = changes.downgrade();
        let mut engine = Engine {
            changes,
            finished: finished.clone(),
            failed_attempts: failed_attempts.clone(),
            gateway,
            in_process,
            settle_waiters: Vec::new(),
            run_ids: ulid::Generator::new(),
            calls: HashMap::new(),
            journal: journal::Journal::new(store.is_durable()),
            answers: Vec::new(),
            call_started: false,
            enqueued: 0,
            clock,
            store,
            registry: Registry::default(),
            runs: BTreeMap::new(),
            waits_by_event: HashMap::new(),
            running: Default::default(),
            queue: queue::Queue::default(),
            in_flight: HashMap::new(),
            in_flight_total: 0,
            crons: Vec::new(),
            flow: flow::FlowState::default(),
            exprs: Default::default(),
            received: HashMap::new(),
            received_order: std::collections::VecDeque::new(),
            http: reqwest::Client::builder()
                .timeout(options.call_timeout)
                .connect_timeout(Duration::from_secs(10).min(options.call_timeout))
                .build()
                .unwrap_or_default(),
            tx: tx.clone(),
            options,
        };
        engine.load()?;
        let task = tokio::spawn(engine.run_loop(rx));
        Ok((
            EngineHandle {
                tx,
                finished,
                failed_attempts,
                changes: weak_changes,
            },
            task,
        ))
    }

    fn load(&mut self) -> Result<(), StoreError> {
        if let Some(offset) = self.store.meta("clock_offset_ms")? {
            self.clock.set_offset_ms(offset.parse().unwrap_or(0));
        }
        for app in self.store.apps::<crate::registry::AppRecord>()? {
            if let Err(e) = self.registry.register(app.sync, app.synced_at_ms) {
                tracing::warn!(error = %crate::error_chain(&e), "a stored app no longer registers");
            }
        }
        // Finished runs stay in the store only: memory holds what is still running.
        for mut run in self.store.running_runs()? {
            // Stored before the state size was kept.
            if run.state_bytes == 0 {
                run.count_state();
            }
            self.running.insert(run.id.clone());
            self.index_run(&run);
            self.runs.insert(run.id.clone(), run);
        }
        for item in self.store.items()? {
            // A call whose run is not among those loaded is queued under no app, and dropped.
            let app = self
                .runs
                .get(&item.run_id)
                .map_or("", |r| r.app_id.as_str());
            self.queue.insert(item, app);
        }
        let horizon = self.clock.now_ms().saturating_sub(intake::DEDUPLICATION_MS);
        let mut received = self.store.received_since(horizon)?;
        received.sort_by_key(|(_, at)| *at);
        for (id, at) in received {
            self.received.insert(id.clone(), at);
            self.received_order.push_back((at, id));
        }
        self.rebuild_crons();
        tracing::debug!(
            runs = self.runs.len(),
            queued = self.queue.len(),
            "state loaded"
        );
        Ok(())
    }

    async fn run_loop(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            self.tick();
            // The calls the turn started go out (their tasks run) before the store is written.
            if std::mem::take(&mut self.call_started) && self.journal.has_writes() {
                tokio::task::yield_now().await;
            }
            // An answer waits for the turn's commit where the store outlives the process, so
            // that nothing answered is lost if the process dies. An in-memory store loses
            // everything then anyway, and it is read only by later commands, which find the turn's
            // writes done (the turn commits before it takes another): there the answers go
            // first, and a checkpointing SDK does not wait for SQLite.
            if self.store.is_durable() {
                self.flush();
                self.send_answers();
            } else {
                self.send_answers();
                self.flush();
            }
            self.answer_settled();
            let wait = self.next_wake();
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        self.handle(cmd);
                        // A burst of commands shares the turn, and so its commit (a command
                        // that reads the store has the turn's writes written first).
                        for _ in 1..TURN_COMMANDS {
                            let Ok(cmd) = rx.try_recv() else { break };
                            self.tick();
                            if cmd.reads_store() {
                                self.flush();
                            }
                            self.handle(cmd);
                        }
                    }
                    None => break,
                },
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Whether nothing happens until time moves or something arrives: no call in flight, no
    /// queue item or flow-control start due.
    fn is_settled(&self) -> bool {
        let now = self.clock.now_ms();
        self.in_flight_total == 0
            && self.queue.first_at().is_none_or(|at| at > now)
            && self.flow.next_due().is_none_or(|at| at > now)
    }

    fn answer_settled(&mut self) {
        if !self.settle_waiters.is_empty() && self.is_settled() {
            for waiter in self.settle_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    fn send_answers(&mut self) {
        for answer in std::mem::take(&mut self.answers) {
            answer();
        }
    }

    /// Answers a command that changed state at the end of the turn: once the turn's writes
    /// are in a durable store, so that an answer is never ahead of it (see `run_loop`).
    fn answer<T: Send + 'static>(&mut self, reply: oneshot::Sender<T>, value: T) {
        self.answers.push(Box::new(move || {
            let _ = reply.send(value);
        }));
    }

    /// Runs whatever time has made due: cron ticks, flow-control starts, queue items.
    fn tick(&mut self) {
        self.fire_crons();
        self.fire_flow();
        self.dispatch_due();
    }

    /// How long the loop may sleep: until the next due item or cron tick, at most a second
    /// (so a clock moved through another handle is noticed).
    fn next_wake(&self) -> Duration {
        let now = self.clock.now_ms();
        // An item due already and still queued after the tick waits for a slot: a call that
        // ends (a command) wakes the loop, so it does not count here (it would spin the loop).
        let next = self
            .queue
            .next_after(now)
            .into_iter()
            .chain(self.crons.iter().map(|c| c.next_ms))
            .chain(self.flow.next_due())
            .min();
        let ms = next.map_or(1000, |at| (at - now).clamp(0, 1000));
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::SendEvents(events, reply) => {
                let accepted = self.ingest(events);
                self.answer(reply, accepted);
            }
            Command::Register(sync, reply) => {
                let registered = self.register(*sync);
                self.answer(reply, registered);
            }
            Command::Checkpoint {
                run_id,
                steps,
                reply,
            } => {
                let saved = self.checkpoint(&run_id, steps);
                self.answer(reply, saved);
            }
            Command::Advance(by, reply) => {
                let moved = self.clock.advance(by);
                if moved.is_ok() {
                    self.journal.push(journal::Write::Meta(
                        "clock_offset_ms",
                        self.clock.offset_ms().to_string(),
                    ));
                    self.changed(|| Change::Clock {
                        now_ms: self.clock.now_ms(),
                    });
                }
                self.answer(reply, moved);
            }
            Command::Run(id, reply) => {
                let run = match self.runs.get(&id) {
                    Some(run) => Some(RunView::from(run)),
                    None => self
                        .stored(|s| s.run(&id))
                        .flatten()
                        .map(|r| RunView::from(&r)),
                };
                let _ = reply.send(run);
            }
            Command::EventRuns(event_id, reply) => {
                let runs = self
                    .stored(|s| s.runs_of_event(&event_id))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|stored| match self.runs.get(&stored.id) {
                        Some(live) => RunView::from(live),
                        None => RunView::from(&stored),
                    })
                    .collect();
                let _ = reply.send(runs);
            }
            Command::Event(id, reply) => {
                // The store has every event, however old.
                let found = match self.store.event::<Value>(&id) {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::error!(error = %crate::error_chain(&e), "could not read an event");
                        None
                    }
                };
                let _ = reply.send(found);
            }
            Command::Events(filter, reply) => {
                let _ = reply.send(self.find_events(&filter));
            }
            Command::Trace(run_id, reply) => {
                let trace = match self.runs.get(&run_id) {
                    Some(run) => Some(RunTrace::from(run)),
                    None => self
                        .stored(|s| s.run(&run_id))
                        .flatten()
                        .map(|r| RunTrace::from(&r)),
                };
                let _ = reply.send(trace);
            }
            Command::Rerun(run_id, reply) => {
                let started = self.rerun(&run_id);
                self.answer(reply, started);
            }
            Command::Apps(reply) => {
                let _ = reply.send(view::apps(&self.registry));
            }
            Command::Cancel(run_id, reply) => {
                let running = self.runs.get(&run_id).is_some_and(|r| !r.is_finished());
                if running {
                    self.finish(&run_id, crate::run::RunStatus::Cancelled, None, None);
                }
                self.answer(reply, running);
            }
            Command::Settle(reply) => self.settle_waiters.push(reply),
            Command::NextDue(with_crons, reply) => {
                let crons = self.crons.iter().map(|c| c.next_ms).filter(|_| with_crons);
                let next = self
                    .queue
                    .first_at()
                    .into_iter()
                    .chain(self.flow.next_due())
                    .chain(crons)
                    .min();
                let _ = reply.send(next);
            }
            Command::Memo(run_id, reply) => {
                let memo = match self.runs.get(&run_id) {
                    Some(run) => Some(run.memo.clone()),
                    None => self.stored(|s| s.run(&run_id)).flatten().map(|r| r.memo),
                };
                let _ = reply.send(memo);
            }
            Command::Invoke(function_id, data, reply) => {
                let started = self.invoke_now(&function_id, data);
                self.answer(reply, started);
            }
            Command::FindRuns(filter, reply) => {
                let runs = self
                    .stored(|s| filter.query(|q| s.find_runs(&q)))
                    .unwrap_or_default()
                    .iter()
                    .map(|stored| match self.runs.get(&stored.id) {
                        Some(live) => RunView::from(live),
                        None => RunView::from(stored),
                    })
                    .collect();
                let _ = reply.send(runs);
            }
            Command::CountRuns(filter, reply) => {
                let count = self.stored(|s| filter.query(|q| s.count_runs(&q)));
                let _ = reply.send(count.unwrap_or(0));
            }
            Command::FireCron(function_id, reply) => {
                let started = self.fire_cron_now(&function_id);
                self.answer(reply, started);
            }
            #[cfg(test)]
            Command::Crash => panic!("a bug in the engine"),
            Command::Called {
                item,
                slots,
                result,
                sent_ms,
            } => {
                self.release(&slots);
                self.on_called(*item, *result, sent_ms);
            }
        }
    }

    fn register(&mut self, sync: RegisterRequest) -> Result<bool, RegisterError> {
        let name = sync.app_name.clone();
        let modified = self.registry.register(sync, self.clock.now_ms())?;
        if let Some(app) = self.registry.apps().find(|a| a.sync.app_name == name) {
            let app = Box::new(app.clone());
            self.journal.push(journal::Write::App(name.clone(), app));
        }
        self.rebuild_crons();
        tracing::info!(app = %name, modified, "app synced");
        // A periodic resync that changes nothing is no news (and would redraw the page).
        if modified {
            self.changed(|| Change::App { id: name });
        }
        Ok(modified)
    }

    /// A store read; a failure is logged and reads as nothing.
    fn stored<T>(&self, read: impl FnOnce(&Store) -> Result<T, StoreError>) -> Option<T> {
        match read(&self.store) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(error = %crate::error_chain(&e), "could not read the state");
                None
            }
        }
    }

    /// Records that `run_id` waits for events named `event`.
    pub(super) fn index_wait(&mut self, run_id: &str, event: &str) {
        self.waits_by_event
            .entry(event.to_string())
            .or_default()
            .insert(run_id.to_string());
    }

    /// Adds a run's waits to the index.
    fn index_run(&mut self, run: &Run) {
        if !run.is_finished() {
            for p in run.pending.values() {
                if let crate::run::Pending::Wait { event, .. } = p {
                    self.waits_by_event
                        .entry(event.clone())
                        .or_default()
                        .insert(run.id.clone());
                }
            }
        }
    }

    /// Notes that a run in memory changed (it is written when the turn ends).
    fn save_run(&mut self, run_id: &str) {
        if let Some(run) = self.runs.get(run_id) {
            self.journal.run_changed(run_id);
            self.changed(|| Change::Run {
                run_id: run.id.clone(),
                function_id: run.function_id.clone(),
                status: run.status,
            });
        }
    }

    /// Tells listeners (if any) what changed; `change` is made only when someone listens.
    fn changed(&self, change: impl FnOnce() -> Change) {
        if self.changes.receiver_count() > 0 {
            let _ = self.changes.send(change());
        }
    }

    /// Received events for the API, each with the runs it started.
    fn find_events(&self, filter: &EventFilter) -> Vec<EventView> {
        let limit = filter.limit.unwrap_or(50).clamp(1, 1000);
        let found: Vec<(i64, Value)> = self
            .stored(|s| s.find_events(filter.name.as_deref(), filter.before, limit))
            .unwrap_or_default();
        found
            .into_iter()
            .map(|(cursor, event)| {
                let id = event.get("id").and_then(Value::as_str).unwrap_or_default();
                let runs = self
                    .stored(|s| s.runs_of_event(id))
                    .unwrap_or_default()
                    .iter()
                    .map(|stored| match self.runs.get(&stored.id) {
                        Some(live) => view::RunSummary::from(live),
                        None => view::RunSummary::from(stored),
                    })
                    .collect();
                EventView {
                    cursor,
                    event,
                    runs,
                }
            })
            .collect()
    }

    /// A new run of `run_id`'s function with its events.
    fn rerun(&mut self, run_id: &str) -> Option<String> {
        let (function_id, events) = match self.runs.get(run_id) {
            Some(run) => (run.function_id.clone(), run.events.clone()),
            None => {
                let run = self.stored(|s| s.run(run_id)).flatten()?;
                (run.function_id, run.events)
            }
        };
        self.start_run(&function_id, events, None)
    }

    /// Schedules work for a run.
    fn enqueue(&mut self, run_id: &str, at_ms: i64, job: crate::run::Job) {
        let item = QueueItem {
            id: ulid::Ulid::new().to_string(),
            run_id: run_id.to_string(),
            at_ms,
            job,
        };
        self.journal.push_item(&item);
        self.enqueued = self.enqueued.wrapping_add(1);
        let app = self.runs.get(run_id).map_or("", |r| r.app_id.as_str());
        self.queue.insert(item, app);
    }
}
