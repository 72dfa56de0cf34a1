//! Sync (registration): the function configs an app declares and the payloads that carry them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One registered function, as in `functions[]` of a sync payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionConfig {
    /// Composite id `<app id>-<function id>`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What starts a run.
    pub triggers: Vec<TriggerConfig>,
    /// Always one step, `"step"`, with the URL the executor calls.
    pub steps: std::collections::BTreeMap<String, StepConfig>,
    /// Concurrency limits (a number, one object or a list of up to two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Value>,
    /// Throttle: queue starts to `limit` per `period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Value>,
    /// Rate limit: drop starts over `limit` per `period`.
    #[serde(rename = "rateLimit", default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Value>,
    /// Debounce: delay the start until events stop for `period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce: Option<Value>,
    /// Batch events into one run.
    #[serde(
        rename = "batchEvents",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub batch_events: Option<Value>,
    /// Priority expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Value>,
    /// Events that cancel a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<Value>,
    /// Start and finish timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Value>,
    /// Idempotency key expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<String>,
    /// Singleton mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub singleton: Option<Value>,
    /// A top-level retry count, which the server reads when the step sets none. The SDKs
    /// send `steps.step.retries` instead; this is only read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// A trigger: an event (with an optional expression) or a cron schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum TriggerConfig {
    /// Runs on each event of this name for which `expression` holds.
    Event {
        /// The event name.
        event: String,
        /// A CEL expression over `event`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expression: Option<String>,
    },
    /// Runs on a schedule (5-field cron, optional `TZ=Zone ` prefix).
    Cron {
        /// The schedule.
        cron: String,
    },
}

/// The single DAG step of a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepConfig {
    /// `"step"`.
    pub id: String,
    /// `"step"`.
    pub name: String,
    /// How the executor reaches the app.
    pub runtime: StepRuntime,
    /// `{attempts: N}` where N is the **retry count** (absent: the server default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<StepRetries>,
}

/// `runtime` of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRuntime {
    /// `http` (serve mode) or `ws` (connect mode).
    #[serde(rename = "type")]
    pub kind: String,
    /// `<serve url>?fnId=<id>&stepId=step`.
    pub url: String,
}

/// `retries` of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRetries {
    /// The number of retries (attempts = retries + 1).
    pub attempts: u32,
}

/// The body of `POST /fn/register` (out-of-band sync). Reads both the JS SDK's camelCase and
/// the Python SDK's snake_case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The app's serve URL.
    pub url: String,
    /// `ping` for HTTP apps, `connect` for connect syncs.
    #[serde(rename = "deployType", alias = "deploy_type", default)]
    pub deploy_type: String,
    /// The serving framework.
    #[serde(default)]
    pub framework: String,
    /// The app id.
    #[serde(rename = "appName", alias = "appname", alias = "app_name")]
    pub app_name: String,
    /// The functions.
    #[serde(default)]
    pub functions: Vec<FunctionConfig>,
    /// `<language>:v<version>`.
    #[serde(default)]
    pub sdk: String,
    /// The payload version, `"0.1"`.
    #[serde(default)]
    pub v: String,
    /// `trust_probe`, `connect`, … versions.
    #[serde(default)]
    pub capabilities: Map<String, Value>,
    /// The app's own version string.
    #[serde(
        rename = "appVersion",
        alias = "app_version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub app_version: Option<String>,
}

/// The server's reply to `POST /fn/register`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// Whether the sync was accepted.
    #[serde(default)]
    pub ok: bool,
    /// Whether the function set changed.
    #[serde(default)]
    pub modified: bool,
    /// An error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
