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
                })
                .collect(),
        })
        .collect()
}
