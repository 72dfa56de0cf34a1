//! The state of one execution request, shared between the driver and the step futures.
//!
//! Its fields are private: the step rules (`ops`) and the driver (`drive`) change it through
//! the methods below, so what a step may do to a run is written in one place.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use super::checkpoint::Checkpointer;
use super::memo::MemoTable;
use crate::error::WorkflowError;
use crate::protocol::{GeneratorOp, SharedJson};
use crate::step_id::{HashedId, StepIdCounter};

/// A step found in this execution that has no memoized result.
pub(crate) struct FoundStep {
    /// The op as it would be reported.
    pub op: GeneratorOp,
    /// Whether the SDK runs it (run, sendEvent) rather than the server (sleep, wait, invoke).
    pub runnable: bool,
}

/// The op that ends this execution request, with the error behind it if any.
pub(crate) struct Interrupt {
    pub op: GeneratorOp,
    pub error: Option<WorkflowError>,
}

/// What the driver does when the handler cannot make progress.
pub(super) enum NextAction {
    /// Nothing to decide: a step body runs, or the handler awaits something else.
    Wait,
    /// The step with this hashed id may run its body now.
    Grant,
    /// The targeted step is not among those found.
    StepNotFound {
        requested: String,
        found: Vec<GeneratorOp>,
    },
    /// Report these new steps.
    Report(Vec<FoundStep>),
}

/// How a request asks the SDK to behave.
pub(super) struct RequestMode {
    /// The memoized steps, by hashed id.
    pub memo: MemoTable,
    /// The hashed id the executor targets (`stepId` other than `step`).
    pub target: Option<String>,
    /// Whether a lone new `run` step may be executed at once.
    pub immediate: bool,
    pub attempt: u32,
    pub max_attempts: u32,
    pub checkpoint: Option<Arc<Checkpointer>>,
    /// The app's step interceptor, with the function and run it runs in.
    pub intercept: Option<Intercept>,
}

/// An app's step interceptor, with the function and the run a request is for.
#[derive(Clone)]
pub(crate) struct Intercept {
    pub interceptor: Arc<dyn crate::intercept::StepInterceptor>,
    pub function_id: String,
    pub run_id: String,
}

pub(crate) struct RunState {
    memo: MemoTable,
    ids: StepIdCounter,
    target: Option<String>,
    immediate: bool,
    attempt: u32,
    max_attempts: u32,
    found: Vec<FoundStep>,
    granted: Option<String>,
    executing: bool,
    interrupt: Option<Interrupt>,
    checkpoint: Option<Arc<Checkpointer>>,
    intercept: Option<Intercept>,
}

impl RunState {
    pub(super) fn new(mode: RequestMode) -> Self {
        Self {
            ids: StepIdCounter::with_capacity(mode.memo.len()),
            memo: mode.memo,
            target: mode.target,
            immediate: mode.immediate,
            attempt: mode.attempt,
            max_attempts: mode.max_attempts,
            found: Vec::new(),
            granted: None,
            executing: false,
            interrupt: None,
            checkpoint: mode.checkpoint,
            intercept: mode.intercept,
        }
    }

    /// The app's interceptor, if it has one.
    pub(super) fn interceptor(&self) -> Option<Intercept> {
        self.intercept.clone()
    }

    /// Resolves the next use of `id` and takes its memo: each hashed id is handed out once per
    /// request, so its memo is read once. Returns the hash, the repeat index and the memo.
    pub(super) fn next_step(&mut self, id: &str) -> (HashedId, Option<u32>, Option<SharedJson>) {
        let (hashed, index) = self.ids.next_hashed(id);
        let memo = self.memo.take(&hashed);
        (hashed, index, memo)
    }

    /// A new step the executor must hear of.
    pub(super) fn found(&mut self, step: FoundStep) {
        self.found.push(step);
    }

    /// Ends this request with `op`.
    pub(super) fn interrupt(&mut self, op: GeneratorOp, error: Option<WorkflowError>) {
        self.interrupt = Some(Interrupt { op, error });
    }

    pub(super) fn take_interrupt(&mut self) -> Option<Interrupt> {
        self.interrupt.take()
    }

    /// `(attempt, max_attempts)`.
    pub(super) fn attempts(&self) -> (u32, u32) {
        (self.attempt, self.max_attempts)
    }

    pub(super) fn checkpoint(&self) -> Option<Arc<Checkpointer>> {
        self.checkpoint.clone()
    }

    fn is_granted(&self, hashed: &str) -> bool {
        self.granted.as_deref() == Some(hashed)
    }

    /// Checkpoint mode: a step ran and was saved; the run goes on in this request.
    pub(super) fn memoize_executed(&mut self, hashed: &str, memo: SharedJson) {
        if let Some(id) = HashedId::parse(hashed) {
            self.memo.insert(id, memo);
        }
        self.found.retain(|f| f.op.id != hashed);
        self.granted = None;
        self.executing = false;
    }

    /// Decides, as the official SDKs do, once every branch of the handler waits:
    /// - a targeted request runs that step (or says it is not there);
    /// - a discovery request with exactly one new `run` step, immediate execution allowed,
    ///   runs it;
    /// - otherwise every new step is reported.
    pub(super) fn next_action(&mut self) -> NextAction {
        if self.executing || self.found.is_empty() {
            return NextAction::Wait;
        }
        let grant = match &self.target {
            Some(target) => match self.found.iter().find(|f| &f.op.id == target) {
                Some(f) if f.runnable => Some(target.clone()),
                _ => {
                    return NextAction::StepNotFound {
                        requested: target.clone(),
                        found: self.found.iter().map(|f| f.op.clone()).collect(),
                    };
                }
            },
            None if self.immediate && self.found.len() == 1 && self.found[0].runnable => {
                Some(self.found[0].op.id.clone())
            }
            None => None,
        };
        match grant {
            Some(hashed) => {
                self.granted = Some(hashed);
                self.executing = true;
                NextAction::Grant
            }
            None => NextAction::Report(std::mem::take(&mut self.found)),
        }
    }
}

/// The run state behind a mutex; never held across an await.
#[derive(Clone)]
pub(crate) struct SharedRun(Arc<Mutex<RunState>>);

impl SharedRun {
    pub(super) fn new(state: RunState) -> Self {
        Self(Arc::new(Mutex::new(state)))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, RunState> {
        // A poisoned lock means a step panicked while holding it; the state is still usable
        // for answering the request.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves once the driver grants `hashed` the right to run. The driver re-polls the
    /// handler right after granting, so no waker is needed.
    pub(super) fn granted<'a>(&'a self, hashed: &'a str) -> impl Future<Output = ()> + Send + 'a {
        Granted { run: self, hashed }
    }
}

struct Granted<'a> {
    run: &'a SharedRun,
    hashed: &'a str,
}

impl Future for Granted<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.run.lock().is_granted(self.hashed) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
