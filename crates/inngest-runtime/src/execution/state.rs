//! The state of one execution request, shared between the driver and the step futures.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use serde_json::{Map, Value};

use super::checkpoint::Checkpointer;
use crate::error::WorkflowError;
use crate::protocol::GeneratorOp;
use crate::step_id::StepIdCounter;

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

pub(crate) struct RunState {
    pub memo: Map<String, Value>,
    pub ids: StepIdCounter,
    /// The hashed id the executor targets (`stepId` other than `step`).
    pub target: Option<String>,
    /// Whether a lone new `run` step may be executed at once.
    pub immediate: bool,
    pub attempt: u32,
    pub max_attempts: u32,
    pub found: Vec<FoundStep>,
    pub granted: Option<String>,
    pub executing: bool,
    pub interrupt: Option<Interrupt>,
    pub checkpoint: Option<Arc<Checkpointer>>,
}

impl RunState {
    pub fn interrupt(&mut self, op: GeneratorOp, error: Option<WorkflowError>) {
        self.interrupt = Some(Interrupt { op, error });
    }

    /// Checkpoint mode: a step ran and was saved; the run goes on in this request.
    pub fn memoize_executed(&mut self, hashed: &str, memo: Value) {
        self.memo.insert(hashed.to_string(), memo);
        self.found.retain(|f| f.op.id != hashed);
        self.granted = None;
        self.executing = false;
    }
}

/// The run state behind a mutex; never held across an await.
#[derive(Clone)]
pub(crate) struct SharedRun(Arc<Mutex<RunState>>);

impl SharedRun {
    pub fn new(state: RunState) -> Self {
        Self(Arc::new(Mutex::new(state)))
    }

    pub fn lock(&self) -> MutexGuard<'_, RunState> {
        // A poisoned lock means a step panicked while holding it; the state is still usable
        // for answering the request.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves once the driver grants `hashed` the right to run. The driver re-polls the
    /// handler right after granting, so no waker is needed.
    pub fn granted<'a>(&'a self, hashed: &'a str) -> impl Future<Output = ()> + Send + 'a {
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
        if self.run.lock().granted.as_deref() == Some(self.hashed) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
