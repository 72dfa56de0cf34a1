//! Workflows tested with `cargo test`: the dev server's engine in process, with a clock the
//! test moves. No server, no ports, no real sleeping: a workflow that sleeps three days runs
//! in milliseconds, on the same executor semantics as under the dev server (retries,
//! backoff, sleeps, waits, invoke, `on_failure`, checkpointing).
//!
//! ```
//! use inngest_devserver::testing::TestEngine;
//! use inngest_runtime::{Context, Event, Workflow, WorkflowError, WorkflowOptions};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, garde::Validate)]
//! struct UserCreated { #[garde(email)] email: String }
//! impl Event for UserCreated { const NAME: &'static str = "user/user.created"; }
//!
//! struct WelcomeUser;
//! impl Workflow for WelcomeUser {
//!     type Event = UserCreated;
//!     type Output = u32;
//!     fn options() -> WorkflowOptions { WorkflowOptions::new("welcome-user") }
//!     async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
//!         ctx.step.run("send-welcome-email", async { Ok(()) }).await?;
//!         ctx.step.sleep("wait-3-days", "3d").await?;
//!         ctx.step.run("send-followup-email", async { Ok(()) }).await?;
//!         Ok(2)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let t = TestEngine::new().register(WelcomeUser);
//! let run = t.send(UserCreated { email: "ada@example.com".into() }).await?;
//! run.advance("3d").await?; // the clock moves; the sleep ends
//! assert_eq!(run.output::<u32>().await?, 2);
//! assert_eq!(run.step("send-welcome-email").await?.attempts(), 1);
//! # Ok(()) }
//! ```
//!
//! Steps can be mocked ([`TestEngine::mock_step`]: the body never runs, the value is
//! memoized as if it had), made to fail a number of times ([`TestEngine::fail_step`]), and an
//! invoked workflow that is not registered can answer a fixed output
//! ([`TestEngine::mock_invoke`]). A run that cannot finish says what it waits on instead of
//! hanging ([`TestError::NotFinished`]).

mod backend;
mod mocks;
mod run;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use inngest_runtime::protocol::sync::RegisterRequest;
use inngest_runtime::serve::ServeHandler;
use inngest_runtime::step::Invocable;
use inngest_runtime::{App, Event, Inngest, Value, Workflow};
use serde::Serialize;

use crate::clock::Clock;
use crate::engine::{Engine, EngineHandle, EngineOptions};
use crate::in_process::InProcessApps;
use crate::store::Store;
pub use run::{StepView, TestRun};

/// How many times [`TestEngine::run_until_idle`] moves the clock before it gives up (a cron or
/// a retry loop that never ends).
const MAX_CLOCK_MOVES: usize = 10_000;

/// How long (real time) one call of a workflow may take before it is a failed attempt.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a test engine call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// The workflows do not form a valid app (two with one id, a bad cron, …).
    #[error("the workflows do not register: {0}")]
    Registration(String),
    /// The engine refused the app's sync.
    #[error("the engine did not take the app: {0}")]
    Sync(String),
    /// The event was refused (it does not validate, or the engine refused it).
    #[error("the event was not sent: {0}")]
    Send(String),
    /// `send` expects exactly one run from the event.
    #[error("event {event:?} started {runs} runs; `send` expects one (use `send_event`)")]
    Runs {
        /// The event's name.
        event: String,
        /// How many runs it started.
        runs: usize,
    },
    /// The run has not finished: what it waits on.
    #[error("run {run_id} of {function_id} has not finished: {waiting_on}")]
    NotFinished {
        /// The run.
        run_id: String,
        /// Its function.
        function_id: String,
        /// The step it waits on, or why it has not finished.
        waiting_on: String,
    },
    /// The run failed (or was cancelled); its error.
    #[error("run {run_id} ended {status:?}: {error}")]
    Failed {
        /// The run.
        run_id: String,
        /// `Failed` or `Cancelled`.
        status: crate::RunStatus,
        /// The error (or output) it ended with.
        error: Value,
    },
    /// The output does not decode as the type asked for.
    #[error("the output does not decode")]
    Output(#[source] serde_json::Error),
    /// No step of the run has this id.
    #[error("run {run_id} has no step {step:?} (it has {known:?})")]
    NoStep {
        /// The run.
        run_id: String,
        /// The id asked for.
        step: String,
        /// The ids it has.
        known: Vec<String>,
    },
    /// A duration that does not parse (`"3d"`, `"1h30m"`).
    #[error("{0:?} is not a duration")]
    Duration(String),
    /// A time that is not RFC 3339.
    #[error("{0:?} is not an RFC 3339 time")]
    Time(String),
    /// The clock cannot move that far.
    #[error("the clock cannot move that far")]
    Clock,
    /// The clock moved 10,000 times and there was still something due.
    #[error("still busy after {MAX_CLOCK_MOVES} moves of the clock (a retry or cron loop?)")]
    NeverIdle,
    /// The workflow has no cron trigger.
    #[error("{0} has no cron trigger")]
    NoCron(String),
    /// The engine stopped (a bug: it panicked).
    #[error("the engine stopped")]
    Stopped(#[from] crate::Stopped),
}

/// Why the app did not get to the engine.
#[derive(Debug, Clone)]
enum SyncFailure {
    Registration(String),
    Engine(String),
}

/// State shared by the engine's handle and every [`TestRun`].
pub(crate) struct Shared {
    engine: EngineHandle,
    clock: Clock,
    app_id: String,
    sent: Arc<Mutex<Vec<Value>>>,
}

/// An in-process Inngest for tests (see the [module](self)).
pub struct TestEngine {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    /// Until the first event: the workflows registered so far.
    builder: Mutex<Option<inngest_runtime::app::AppBuilder>>,
    /// The app once synced, or why it could not be.
    synced: tokio::sync::OnceCell<Result<(), SyncFailure>>,
    in_process: InProcessApps,
    mocks: Arc<mocks::Mocks>,
}

impl Default for TestEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestEngine {
    /// An engine for an app with id `test` (function ids are `test-<workflow id>`), in
    /// checkpoint mode as the dev server and the official SDKs run by default. Call it inside a
    /// tokio runtime (`#[tokio::test]`).
    pub fn new() -> Self {
        Self::with_app_id("test")
    }

    /// An engine for an app with id `app_id`.
    pub fn with_app_id(app_id: &str) -> Self {
        Self::build(app_id, true)
    }

    /// The same engine in classic mode: one SDK call per step, no checkpoints.
    pub fn classic(app_id: &str) -> Self {
        Self::build(app_id, false)
    }

    fn build(app_id: &str, checkpointing: bool) -> Self {
        // Frozen at the wall time of the start: it moves only when the test moves it.
        let clock = Clock::frozen_at(Clock::default().now_ms());
        let options = EngineOptions {
            checkpointing,
            retry_interval: None,
            max_in_flight: 256,
            max_in_flight_per_app: 256,
            // A step that never returns is a failed attempt after this, not a hung test.
            call_timeout: CALL_TIMEOUT,
        };
        let in_process = InProcessApps::default();
        // An in-memory store always opens; a failure here is a bug, reported on first use.
        let store = Store::open(None);
        let (engine, task) = match store.and_then(|store| {
            Engine::spawn(
                clock.clone(),
                store,
                options,
                crate::gateway::Gateway::default(),
                in_process.clone(),
            )
        }) {
            Ok(spawned) => spawned,
            Err(e) => panic!(
                "the in-memory store did not open: {}",
                crate::error_chain(&e)
            ),
        };
        let sent = Arc::new(Mutex::new(Vec::new()));
        let client = Inngest::in_process(
            app_id,
            Arc::new(backend::Backend {
                engine: engine.clone(),
                sent: sent.clone(),
            }),
        );
        let mocks = Arc::new(mocks::Mocks::default());
        let builder = App::builder(client).intercept_steps(mocks.clone());
        Self {
            shared: Arc::new(Shared {
                engine,
                clock,
                app_id: app_id.to_string(),
                sent,
            }),
            task,
            builder: Mutex::new(Some(builder)),
            synced: tokio::sync::OnceCell::new(),
            in_process,
            mocks,
        }
    }

    fn with_builder(
        self,
        f: impl FnOnce(inngest_runtime::app::AppBuilder) -> inngest_runtime::app::AppBuilder,
    ) -> Self {
        {
            let mut slot = self.builder.lock().unwrap_or_else(|p| p.into_inner());
            match slot.take() {
                Some(builder) => *slot = Some(f(builder)),
                // A test's own mistake, found at once rather than as a workflow that never runs.
                None => panic!(
                    "the test engine's app is built at its first event: register workflows and mocks before it"
                ),
            }
        }
        self
    }

    /// Registers a workflow (and its failure handler). Before the first event only.
    pub fn register<W: Workflow>(self, workflow: W) -> Self {
        self.with_builder(|b| b.register(workflow))
    }

    /// Every `run` step with id `step_id` returns `value` without running its body, once per
    /// run (the value is memoized, so replays read it as they would the body's).
    pub fn mock_step(self, step_id: &str, value: impl Serialize) -> Self {
        self.mocks
            .value(step_id, serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// The first `times` attempts of every `run` step with id `step_id` fail with `message`
    /// (without running the body); later attempts run it. Retries follow the function's
    /// retry count and backoff, on the engine's clock.
    pub fn fail_step(self, step_id: &str, times: u32, message: &str) -> Self {
        self.mocks.fail(step_id, times, message.to_string());
        self
    }

    /// Every `run` step with id `step_id` fails with `message` on every attempt, without
    /// running its body: the run fails once its retries are spent (and its `on_failure` runs).
    pub fn mock_step_error(self, step_id: &str, message: &str) -> Self {
        self.fail_step(step_id, u32::MAX, message)
    }

    /// `step.invoke::<W>` of a workflow this engine does not register returns `output` at once
    /// (through a stand-in function with `W`'s id, whose run can be inspected too).
    pub fn mock_invoke<W: Invocable + 'static>(self, output: impl Serialize) -> Self {
        let stub = mocks::Stub::<W> {
            output: serde_json::to_value(output).unwrap_or(Value::Null),
            _of: std::marker::PhantomData,
        };
        self.with_builder(|b| b.register(stub))
    }

    /// Builds and syncs the app on first use.
    async fn synced(&self) -> Result<(), TestError> {
        let synced = self
            .synced
            .get_or_init(|| async {
                let builder = self
                    .builder
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                let Some(builder) = builder else {
                    return Err(SyncFailure::Engine("the app was taken".to_string()));
                };
                let app = builder
                    .build()
                    .map_err(|e| SyncFailure::Registration(crate::error_chain(&e)))?;
                let url = crate::in_process::app_url(&self.shared.app_id);
                let sync = RegisterRequest {
                    url: url.clone(),
                    deploy_type: "ping".into(),
                    framework: "test".into(),
                    app_name: self.shared.app_id.clone(),
                    functions: app.function_configs(&url, "http"),
                    sdk: inngest_runtime::protocol::headers::sdk_header_value(),
                    v: "0.1".into(),
                    capabilities: Default::default(),
                    app_version: None,
                };
                self.in_process.add(
                    &self.shared.app_id,
                    ServeHandler::new(app).framework("test"),
                );
                self.shared
                    .engine
                    .register(sync)
                    .await
                    .map(|_| ())
                    .map_err(|e| SyncFailure::Engine(crate::error_chain(&e)))
            })
            .await;
        synced.clone().map_err(|f| match f {
            SyncFailure::Registration(why) => TestError::Registration(why),
            SyncFailure::Engine(why) => TestError::Sync(why),
        })
    }

    /// Sends a typed event and runs what it starts as far as it goes without the clock
    /// moving; the run it started (exactly one).
    ///
    /// # Errors
    ///
    /// [`TestError::Send`] when the event does not validate, [`TestError::Runs`] when it starts
    /// no run or several (see [`TestEngine::send_event`]).
    pub async fn send<E: Event>(&self, event: E) -> Result<TestRun, TestError> {
        let mut runs = self.send_event(event).await?;
        match runs.len() {
            1 => Ok(runs.remove(0)),
            n => Err(TestError::Runs {
                event: E::NAME.to_string(),
                runs: n,
            }),
        }
    }

    /// Sends a typed event (it also resumes runs waiting for it); the runs it started, once
    /// they have gone as far as they can without the clock moving.
    pub async fn send_event<E: Event>(&self, event: E) -> Result<Vec<TestRun>, TestError> {
        self.synced().await?;
        let payload =
            inngest_runtime::event::encode(&event).map_err(|e| TestError::Send(e.to_string()))?;
        let value = serde_json::to_value(payload).map_err(|e| TestError::Send(e.to_string()))?;
        let ids = self
            .shared
            .engine
            .send_events(vec![value])
            .await
            .map_err(|e| TestError::Send(crate::error_chain(&e)))?;
        self.shared.engine.settled().await?;
        let mut runs = Vec::new();
        for id in ids {
            for r in self.shared.engine.event_runs(id).await? {
                runs.push(TestRun::new(self.shared.clone(), r.run_id));
            }
        }
        Ok(runs)
    }

    /// Fires the cron trigger of workflow `W` now, as its next tick would; the run it started.
    pub async fn tick<W: Workflow>(&self) -> Result<TestRun, TestError> {
        self.synced().await?;
        let function_id = format!("{}-{}", self.shared.app_id, W::options().id);
        let run_id = self
            .shared
            .engine
            .fire_cron(function_id.clone())
            .await?
            .ok_or(TestError::NoCron(function_id))?;
        self.shared.engine.settled().await?;
        Ok(TestRun::new(self.shared.clone(), run_id))
    }

    /// Moves the clock by `duration` (`"3d"`, `"1h30m"`), running what becomes due in time
    /// order: sleeps that end, timeouts, retries, and every cron tick on the way.
    pub async fn advance(&self, duration: &str) -> Result<(), TestError> {
        self.synced().await?;
        self.shared.advance(duration).await
    }

    /// Moves the clock to `at` (RFC 3339, e.g. `"2030-01-01T09:00:00Z"`) as
    /// [`TestEngine::advance`] does; a time in the past leaves it where it is.
    pub async fn advance_to(&self, at: &str) -> Result<(), TestError> {
        let target = chrono::DateTime::parse_from_rfc3339(at)
            .map_err(|_| TestError::Time(at.to_string()))?
            .timestamp_millis();
        self.synced().await?;
        self.shared.advance_until(target).await
    }

    /// Moves the clock from one due item to the next until nothing is left to do: every sleep,
    /// retry and timeout passes in order, so a run waiting for an event times out (its
    /// `wait_for_event` returns `None`), as an invoke past its timeout does. Cron ticks are not
    /// due items here (they never end); [`TestEngine::advance`] fires them.
    pub async fn run_until_idle(&self) -> Result<(), TestError> {
        self.synced().await?;
        self.shared.run_until_idle().await
    }

    /// Every event the app sent (`step.send_event`, or its client), in order.
    pub fn events_sent(&self) -> Vec<Value> {
        self.shared
            .sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The engine's clock (Unix ms), as moved by the test.
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// The underlying engine, for what this API does not cover.
    pub fn engine(&self) -> &EngineHandle {
        &self.shared.engine
    }
}

impl Shared {
    async fn advance(&self, duration: &str) -> Result<(), TestError> {
        let by = inngest_runtime::duration::parse(duration)
            .map_err(|_| TestError::Duration(duration.to_string()))?;
        let by_ms = i64::try_from(by.as_millis()).map_err(|_| TestError::Clock)?;
        let target = self
            .clock
            .now_ms()
            .checked_add(by_ms)
            .ok_or(TestError::Clock)?;
        self.advance_until(target).await
    }

    /// Moves the clock to `target` (Unix ms), running what becomes due in time order.
    async fn advance_until(&self, target: i64) -> Result<(), TestError> {
        self.engine.settled().await?;
        for _ in 0..MAX_CLOCK_MOVES {
            match self.engine.next_due_ms(true).await? {
                Some(at) if at <= target => self.move_to(at).await?,
                _ => return self.move_to(target).await,
            }
        }
        Err(TestError::NeverIdle)
    }

    async fn run_until_idle(&self) -> Result<(), TestError> {
        self.engine.settled().await?;
        for _ in 0..MAX_CLOCK_MOVES {
            match self.engine.next_due_ms(false).await? {
                Some(at) => self.move_to(at).await?,
                None => return Ok(()),
            }
        }
        Err(TestError::NeverIdle)
    }

    /// Moves the clock to `at` (if it is ahead) and lets what became due run.
    async fn move_to(&self, at: i64) -> Result<(), TestError> {
        let ahead = at.saturating_sub(self.clock.now_ms());
        if ahead > 0 {
            let by = Duration::from_millis(u64::try_from(ahead).unwrap_or(0));
            self.engine.advance(by).await.map_err(|e| match e {
                crate::AdvanceError::Stopped(s) => TestError::Stopped(s),
                _ => TestError::Clock,
            })?;
        }
        self.engine.settled().await?;
        Ok(())
    }
}
