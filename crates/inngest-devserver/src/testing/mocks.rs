//! Step mocks and failures, decided in the SDK before a step's body runs (through
//! [`inngest_runtime::intercept`]), and stand-ins for invoked workflows that are not
//! registered.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;

use inngest_runtime::intercept::{StepCall, StepInterceptor};
use inngest_runtime::step::Invocable;
use inngest_runtime::{Context, Trigger, Value, Workflow, WorkflowError, WorkflowOptions};

/// What a mocked step does.
#[derive(Debug, Clone)]
enum Rule {
    /// Returns this value; the body never runs.
    Value(Value),
    /// Fails this many attempts with this message, then runs its body.
    Fail { times: u32, message: String },
}

/// The mocks of a test engine, by step id (for every function of the app).
#[derive(Debug, Default)]
pub(super) struct Mocks {
    rules: Mutex<HashMap<String, Rule>>,
    /// Failures given so far, by run and step id: a step's own attempts (in checkpoint mode a
    /// request's attempt may be an earlier step's).
    failed: Mutex<HashMap<(String, String), u32>>,
}

impl Mocks {
    pub fn value(&self, step_id: &str, value: Value) {
        self.lock().insert(step_id.to_string(), Rule::Value(value));
    }

    pub fn fail(&self, step_id: &str, times: u32, message: String) {
        self.lock()
            .insert(step_id.to_string(), Rule::Fail { times, message });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Rule>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StepInterceptor for Mocks {
    fn intercept(&self, call: &StepCall<'_>) -> Option<Result<Value, WorkflowError>> {
        let rule = self.lock().get(call.step_id)?.clone();
        match rule {
            Rule::Value(v) => Some(Ok(v)),
            Rule::Fail { times, message } => {
                let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
                let count = failed
                    .entry((call.run_id.to_string(), call.step_id.to_string()))
                    .or_insert(0);
                if *count < times {
                    *count += 1;
                    Some(Err(WorkflowError::new(message)))
                } else {
                    None
                }
            }
        }
    }
}

/// A stand-in for workflow `W`, which the test does not register: invoked, it returns
/// `output` at once. Its trigger is `W`'s event under an expression that never holds, so only
/// an invoke starts it.
pub(super) struct Stub<W> {
    pub output: Value,
    pub _of: PhantomData<fn() -> W>,
}

impl<W: Invocable + 'static> Workflow for Stub<W> {
    type Event = W::Event;
    type Output = Value;

    fn options() -> WorkflowOptions {
        WorkflowOptions::new(W::function_id())
    }

    fn triggers() -> Vec<Trigger> {
        vec![Trigger::event::<W::Event>().when("1 == 2")]
    }

    async fn handler(&self, _ctx: Context<Self>) -> Result<Value, WorkflowError> {
        Ok(self.output.clone())
    }
}
