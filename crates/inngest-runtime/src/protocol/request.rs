//! The execution request: what the executor POSTs to `?fnId=…&stepId=…`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::event::EventPayload;
use super::json::{JsonRepr, Steps};

/// The body of an execution request.
///
/// Every request carries the whole run state (trigger events, memoized steps, context), so an
/// SDK can answer it without any other state. Values are [`Value`] trees by default, or raw
/// text (`ExecutionRequest<RawJson>`, see [`super::json`]). This type is the whole request,
/// for servers and tests; the SDK answering a request reads only what it acts on, as views
/// into the body, and falls back to [`ExecutionRequest::parse`] for its checks and messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "V: JsonRepr"))]
pub struct ExecutionRequest<V = Value> {
    /// The first triggering event.
    pub event: EventPayload<V>,
    /// All triggering events (more than one for batches).
    #[serde(default)]
    pub events: Vec<EventPayload<V>>,
    /// Memoized step results keyed by hashed step id, in stack order.
    #[serde(default)]
    pub steps: Steps<V>,
    /// Run context.
    pub ctx: RequestContext,
    /// Execution version: `-1`/absent lets the SDK decide, `1` and `2` are accepted.
    #[serde(default = "minus_one")]
    pub version: i64,
    /// Whether the SDK must fetch events and steps from the API (large state).
    #[serde(default)]
    pub use_api: bool,
}

fn minus_one() -> i64 {
    -1
}

/// `ctx` of an execution request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestContext {
    /// The run's ULID.
    pub run_id: String,
    /// Zero-based attempt of the current queue item.
    #[serde(default)]
    pub attempt: u32,
    /// Attempts allowed for this queue item (retries + 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// When true the SDK must report every new step as planned instead of running it.
    #[serde(default)]
    pub disable_immediate_execution: bool,
    /// Same as the top-level `use_api`.
    #[serde(default)]
    pub use_api: bool,
    /// The order in which memoized steps completed.
    #[serde(default)]
    pub stack: RunStack,
    /// The function's UUID; with `qi_id` it enables async checkpointing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fn_id: Option<String>,
    /// The queue item reference, echoed on checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi_id: Option<String>,
    /// The registered DAG step (`"step"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// The environment name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Per-dispatch request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Dispatch generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<Value>,
}

/// `ctx.stack`: hashed step ids in completion order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStack {
    /// Hashed ids of memoized steps in the order they completed.
    #[serde(default)]
    pub stack: Vec<String>,
    /// Position of the current step.
    #[serde(default)]
    pub current: usize,
}

/// Why an execution request body was refused.
///
/// The message text follows the official JS SDK's, because it is part of what the executor
/// records (`_sync-dev/09` and `/10` of the conformance corpus).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestParseError {
    /// The body is not JSON at all.
    #[error("Failed to parse data from executor: the body is not JSON ({0})")]
    NotJson(String),
    /// The JSON does not have the required shape; the issues list what is wrong.
    #[error(
        "Failed to parse data from executor Function execution can't continue. {} To fix: Make sure that your API is set up to parse incoming request bodies as JSON, like body-parser for Express. See: https://expressjs.com/en/resources/middleware/body-parser.html",
        issues_text(.0)
    )]
    Shape(Vec<ShapeIssue>),
    /// The request asks for an execution version this SDK does not speak (0).
    #[error(
        "Failed to parse data from executor Function execution can't continue. To fix: Make sure that your API is set up to parse incoming request bodies as JSON, like body-parser for Express. See: https://expressjs.com/en/resources/middleware/body-parser.html"
    )]
    UnsupportedVersion(i64),
}

/// One problem in a request body: where, what was expected, what was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapeIssue {
    /// Always `invalid_type`.
    pub code: &'static str,
    /// The JSON type expected.
    pub expected: &'static str,
    /// The JSON type found (`undefined` when missing).
    pub received: &'static str,
    /// The path to the field.
    pub path: Vec<String>,
    /// `Required` when missing, else `Expected <x>, received <y>`.
    pub message: String,
}

fn issues_text(issues: &[ShapeIssue]) -> String {
    serde_json::to_string_pretty(issues).unwrap_or_default()
}

fn json_type(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

fn expect(
    issues: &mut Vec<ShapeIssue>,
    parent: &Map<String, Value>,
    path: &[&str],
    expected: &'static str,
) {
    let key = path[path.len() - 1];
    let found = parent.get(key);
    let received = json_type(found);
    if received != expected {
        issues.push(ShapeIssue {
            code: "invalid_type",
            expected,
            received,
            path: path.iter().map(|s| s.to_string()).collect(),
            message: if found.is_none() {
                "Required".into()
            } else {
                format!("Expected {expected}, received {received}")
            },
        });
    }
}

impl<V: JsonRepr> ExecutionRequest<V> {
    /// Parses and checks an execution request body.
    ///
    /// ```
    /// use inngest_runtime::protocol::ExecutionRequest;
    /// let body = br#"{"event":{"name":"a/b","data":{}},"steps":{},"ctx":{"run_id":"01H"}}"#;
    /// let req: ExecutionRequest = ExecutionRequest::parse(body).unwrap();
    /// assert_eq!(req.ctx.run_id, "01H");
    /// assert!(ExecutionRequest::<serde_json::Value>::parse(br#"{"steps":{}}"#).is_err());
    /// ```
    pub fn parse(body: &[u8]) -> Result<Self, RequestParseError> {
        // The common case: a well-formed request decodes straight into its type.
        // UTF-8 is checked once for the whole body, so that strings and raw values are not
        // checked again one by one.
        if let Ok(text) = std::str::from_utf8(body) {
            if let Ok(req) = serde_json::from_str::<ExecutionRequest<V>>(text) {
                if req.version != 0 {
                    return Ok(req.normalized());
                }
            }
        }
        Self::parse_checked(body)
    }

    /// The slow path: decodes through a [`Value`] to name what is wrong the way the official
    /// SDK does.
    fn parse_checked(body: &[u8]) -> Result<Self, RequestParseError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| RequestParseError::NotJson(e.to_string()))?;
        let Value::Object(obj) = &value else {
            return Err(RequestParseError::Shape(vec![ShapeIssue {
                code: "invalid_type",
                expected: "object",
                received: json_type(Some(&value)),
                path: vec![],
                message: format!("Expected object, received {}", json_type(Some(&value))),
            }]));
        };
        let mut issues = Vec::new();
        expect(&mut issues, obj, &["event"], "object");
        if let Some(Value::Object(event)) = obj.get("event") {
            expect(&mut issues, event, &["event", "name"], "string");
        }
        match obj.get("ctx") {
            Some(Value::Object(ctx)) => expect(&mut issues, ctx, &["ctx", "run_id"], "string"),
            // The official SDK reports a missing `ctx` only once `event` is right.
            _ if issues.is_empty() => expect(&mut issues, obj, &["ctx"], "object"),
            _ => {}
        }
        if !issues.is_empty() {
            return Err(RequestParseError::Shape(issues));
        }
        let version = obj.get("version").and_then(Value::as_i64).unwrap_or(-1);
        if version == 0 {
            return Err(RequestParseError::UnsupportedVersion(version));
        }
        // Checked: decode the body itself (raw values need the text, not the tree).
        let req: ExecutionRequest<V> = serde_json::from_slice(body).map_err(|e| {
            RequestParseError::Shape(vec![ShapeIssue {
                code: "invalid_type",
                expected: "object",
                received: "object",
                path: vec![],
                message: e.to_string(),
            }])
        })?;
        Ok(req.normalized())
    }

    /// Fills what the request may leave implicit.
    fn normalized(mut self) -> Self {
        if self.events.is_empty() {
            self.events.push(self.event.clone());
        }
        if self.ctx.stack.stack.is_empty() && !self.steps.is_empty() {
            // The SDK spec: with memo but no stack, the memo's key order is the stack.
            self.ctx.stack.stack = self.steps.keys().map(str::to_string).collect();
        }
        self
    }
}
