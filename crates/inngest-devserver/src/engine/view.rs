//! What the API shows of runs, apps and functions (shaped like Inngest's REST API).

use serde::Serialize;
use serde_json::Value;

use crate::clock::rfc3339;
use crate::registry::{Registry, Trigger};
use crate::run::{Run, RunStatus, StepRecord};

/// A run as `GET /v1/runs/{id}` shows it (Inngest's `FunctionRun`, plus the steps).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    /// The run id.
    pub run_id: String,
    /// The function's composite id.
    pub function_id: String,
    /// The app's id.
    pub app_id: String,
    /// The triggering event's id.
    pub event_id: Option<String>,
    /// `Running`, `Completed`, `Failed` or `Cancelled`.
    pub status: RunStatus,
    /// RFC 3339.
    pub run_started_at: String,
    /// RFC 3339, once ended.
    pub ended_at: Option<String>,
    /// The output (the error when failed).
    pub output: Option<Value>,
    /// The steps the SDK reported, in order.
    pub steps: Vec<StepRecord>,
    /// The invoking run, if any.
    pub parent_run_id: Option<String>,
}

impl From<&Run> for RunView {
    fn from(run: &Run) -> Self {
        Self {
            run_id: run.id.clone(),
            function_id: run.function_id.clone(),
            app_id: run.app_id.clone(),
            event_id: run.event_id().map(str::to_string),
            status: run.status,
            run_started_at: rfc3339(run.started_at_ms),
            ended_at: run.ended_at_ms.map(rfc3339),
            output: run.output.clone(),
            steps: run.steps.clone(),
            parent_run_id: run.parent.as_ref().map(|p| p.run_id.clone()),
        }
    }
}

/// A run in a list: who, where it stands, since when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run id.
    pub run_id: String,
    /// The function's composite id.
    pub function_id: String,
    /// Where it stands.
    pub status: RunStatus,
    /// RFC 3339.
    pub run_started_at: String,
    /// RFC 3339, once ended.
    pub ended_at: Option<String>,
}

impl From<&Run> for RunSummary {
    fn from(run: &Run) -> Self {
        Self {
            run_id: run.id.clone(),
            function_id: run.function_id.clone(),
            status: run.status,
            run_started_at: rfc3339(run.started_at_ms),
            ended_at: run.ended_at_ms.map(rfc3339),
        }
    }
}

/// A received event with the runs it started (`GET /v1/events`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    /// Where it stands in the list: pass it as `before` for the page after it.
    pub cursor: i64,
    /// The event as stored (`id`, `name`, `data`, `ts` …).
    pub event: Value,
    /// The runs it started, oldest first.
    pub runs: Vec<RunSummary>,
}

/// A synced function.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionView {
    /// Composite id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `event:<name>` or `cron:<schedule>` per trigger.
    pub triggers: Vec<String>,
    /// The URL the executor calls.
    pub url: String,
    /// Attempts per step.
    pub max_attempts: u32,
    /// The options it was synced with, as the SDK sent them (concurrency, throttle,
    /// debounce, retries, timeouts …; triggers and steps aside).
    pub options: serde_json::Map<String, Value>,
}

/// A synced app.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppView {
    /// The app id.
    pub id: String,
    /// Its serve URL.
    pub url: String,
    /// The SDK it reported.
    pub sdk: String,
    /// The framework it reported.
    pub framework: String,
    /// RFC 3339.
    pub synced_at: String,
    /// Its functions.
    pub functions: Vec<FunctionView>,
}

pub(super) fn apps(registry: &Registry) -> Vec<AppView> {
    registry
        .apps()
        .map(|app| AppView {
            id: app.sync.app_name.clone(),
            url: app.sync.url.clone(),
            sdk: app.sync.sdk.clone(),
            framework: app.sync.framework.clone(),
            synced_at: rfc3339(app.synced_at_ms),
            functions: registry
                .functions()
                .filter(|f| f.app_id == app.sync.app_name)
                .map(|f| FunctionView {
                    id: f.config.id.clone(),
                    name: f.config.name.clone(),
                    triggers: f
                        .triggers
                        .iter()
                        .map(|t| match t {
                            Trigger::Event { name, .. } => format!("event:{name}"),
                            Trigger::Cron(c) => format!("cron:{}", c.as_str()),
                        })
                        .collect(),
                    url: f.url.clone(),
                    max_attempts: f.max_attempts,
                    options: options_of(&f.config),
                })
                .collect(),
        })
        .collect()
}

/// A function's synced options without its triggers, steps, id and name.
fn options_of(
    config: &inngest_runtime::protocol::sync::FunctionConfig,
) -> serde_json::Map<String, Value> {
    match serde_json::to_value(config) {
        Ok(Value::Object(mut o)) => {
            for key in ["id", "name", "triggers", "steps"] {
                o.remove(key);
            }
            o
        }
        _ => serde_json::Map::new(),
    }
}

/// An attempt of a run that failed: a step's error the executor retries or gives up on, or an
/// error of the function itself. `cargo inngest dev` prints one line for each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedAttempt {
    /// The run id.
    pub run_id: String,
    /// The function's composite id.
    pub function_id: String,
    /// The step as the user named it; `None` for an error outside any step.
    pub step: Option<String>,
    /// `name: message` of the error.
    pub error: String,
    /// The zero-based attempt that failed.
    pub attempt: u32,
    /// The attempts allowed.
    pub max_attempts: u32,
    /// When the next attempt is due (RFC 3339); `None` when this failure is final.
    pub retry_at: Option<String>,
    /// How long until then, in ms of the server's clock.
    pub retry_in_ms: Option<u64>,
}

impl FailedAttempt {
    /// `name: message` of a serialized error, or its text when it is not an object.
    pub(crate) fn describe(error: Option<&Value>) -> String {
        let Some(error) = error else {
            return "an error without a message".into();
        };
        let name = error.get("name").and_then(Value::as_str).unwrap_or("Error");
        match error.get("message").and_then(Value::as_str) {
            Some(message) => format!("{name}: {message}"),
            None => error.to_string(),
        }
    }

    /// What a failed call's output says of its error: the SDK's error object, or the one the
    /// executor wraps in `{"error": …}`; else `reason`.
    pub(crate) fn describe_output(output: &Value, reason: &str) -> String {
        if output.get("message").is_some() {
            return Self::describe(Some(output));
        }
        match output.get("error") {
            Some(inner) if inner.get("message").is_some() => Self::describe(Some(inner)),
            _ => reason.to_string(),
        }
    }
}
