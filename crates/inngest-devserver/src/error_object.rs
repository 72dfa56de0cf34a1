//! The error objects the executor stores and emits, shaped as the Go server shapes them.
//!
//! | where | shape | Go source |
//! | --- | --- | --- |
//! | a failed step's memo | `{"error": {name, message, stack?, data?, noRetry?, cause?}}` | `state/opcode.go` `Output()`, `UserError` |
//! | `data.error` of `function.failed` / `.finished`, an invoking parent's memo | `{error, name, message, stack?, cause?}` | `DriverResponse.StandardError()` |
//! | the output of a non-2xx answer without `X-Inngest-SDK` | `{error, name: "Server returned a fatal error", message, stack}` | `FatalUpstreamError` |
//! | a run's output for an executor error (a driver error, a limit) | `{"error": {error, name, message}}` | `WrapInStandardError` |

use inngest_runtime::protocol::SerializedError;
use serde_json::{Map, Value, json};

/// `Err` before a more precise one is known (Go's `DefaultErrorMessage`).
const DEFAULT_MESSAGE: &str = "Function execution error";

/// How much of an upstream body a fatal-upstream error keeps in its stack.
const MAX_UPSTREAM_BODY: usize = 8192;

/// The largest error string that is looked into as JSON (Go bounds it at 32 KiB).
const MAX_INNER_ERROR: usize = 32 * 1024;

/// A run's output for an error of the executor itself, as the Go executor shapes its own:
/// `{"error": {error, name, message}}`.
pub(crate) fn executor_error(error: &str, name: &str, message: &str) -> Value {
    json!({ "error": { "error": error, "name": name, "message": message } })
}

/// The memo of an invoke step that started no child run (`{"error": {name, message}}`).
pub(crate) fn invoke_failure_memo(message: String) -> Value {
    json!({ "error": { "name": "Error", "message": message } })
}

/// The memo of a step that failed for good: its error with only the fields the server keeps.
/// `no_retry` is set when the answer carried `X-Inngest-No-Retry: true`; otherwise the SDK's
/// own `noRetry`, if any, is kept.
pub(crate) fn step_failure_memo(error: Option<&SerializedError>, no_retry: bool) -> Value {
    let mut e = Map::new();
    e.insert("name".into(), json!(error.map_or("", |e| e.name.as_str())));
    e.insert(
        "message".into(),
        json!(error.map_or("", |e| e.message.as_str())),
    );
    if let Some(stack) = error
        .and_then(|e| e.stack.as_deref())
        .filter(|s| !s.is_empty())
    {
        e.insert("stack".into(), json!(stack));
    }
    if let Some(data) = error.and_then(|e| e.data.as_deref()) {
        e.insert("data".into(), data.clone());
    }
    let sdk_no_retry = error.and_then(|e| e.no_retry);
    if no_retry || sdk_no_retry.is_some() {
        e.insert(
            "noRetry".into(),
            json!(no_retry || sdk_no_retry == Some(true)),
        );
    }
    if let Some(cause) = error.and_then(|e| e.cause.as_deref()) {
        e.insert("cause".into(), cause.clone());
    }
    json!({ "error": Value::Object(e) })
}

/// The standard error of a failed run, from its final answer's `output` and the reason the
/// attempt failed (`reason`, Go's `Err`: `invalid status code: 500`, `NonRetriableError`, …).
pub(crate) fn standard_error(output: Option<&Value>, reason: Option<&str>) -> Value {
    let mut error = DEFAULT_MESSAGE.to_string();
    let mut name = "Error".to_string();
    let mut message = DEFAULT_MESSAGE.to_string();
    let mut stack = None;
    let mut cause = None;
    let raw: Option<Map<String, Value>> = match output {
        Some(Value::Object(o)) => Some(o.clone()),
        Some(Value::String(s)) if !s.is_empty() => Some(message_only(s)),
        Some(Value::Null) | None => None,
        Some(Value::String(_)) => None,
        Some(other) => Some(message_only(&other.to_string())),
    };
    if let Some(raw) = raw.filter(|r| !r.is_empty()) {
        let fields = inner_error(&raw).unwrap_or(raw);
        let text = |key: &str| {
            fields
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(v) = text("error") {
            error = v.to_string();
        }
        if let Some(v) = text("name") {
            name = v.to_string();
        }
        if let Some(v) = text("message") {
            message = v.to_string();
        }
        stack = text("stack").map(str::to_string);
        cause = fields.get("cause").cloned();
    }
    if let Some(reason) = reason {
        if error == DEFAULT_MESSAGE {
            error = reason.to_string();
        }
        if message == DEFAULT_MESSAGE {
            message = reason.to_string();
        }
    }
    let mut out = json!({ "error": error, "name": name, "message": message });
    if let Some(stack) = stack {
        out["stack"] = json!(stack);
    }
    if let Some(cause) = cause {
        out["cause"] = cause;
    }
    out
}

fn message_only(text: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("message".into(), json!(text));
    m
}

/// The SDK's error inside a body: its `error` (or else `body`) field when that is an object
/// or a string holding a JSON object.
fn inner_error(raw: &Map<String, Value>) -> Option<Map<String, Value>> {
    ["error", "body"]
        .iter()
        .find_map(|key| match raw.get(*key) {
            Some(Value::Object(o)) => Some(o.clone()),
            Some(Value::String(s)) if s.len() <= MAX_INNER_ERROR => {
                let text = serde_json::from_str::<String>(s).unwrap_or_else(|_| s.clone());
                serde_json::from_str::<Map<String, Value>>(&text).ok()
            }
            _ => None,
        })
}

/// The output recorded for a non-2xx answer that did not come from an SDK (a proxy's error
/// page, a crashed app): what the user sees instead of an empty error.
pub(crate) fn fatal_upstream(status: u16, body: &str, content_type: Option<&str>) -> Value {
    let message = format!("Your server returned HTTP {status} before the SDK responded.");
    let detail = "No step output was produced before the request failed — this can mean a \
                  proxy or load balancer in front of your app returned an error, or your app \
                  was unable to respond.";
    let stack = if body.is_empty() {
        detail.to_string()
    } else {
        let (kept, truncated) = match body.char_indices().nth(MAX_UPSTREAM_BODY) {
            Some((cut, _)) => (&body[..cut], "\n… (truncated)"),
            None => (body, ""),
        };
        let ct = content_type
            .filter(|c| !c.is_empty())
            .unwrap_or("unknown content-type");
        format!("{detail}\n\nUpstream response ({ct}):\n{kept}{truncated}")
    };
    json!({
        "error": message,
        "name": "Server returned a fatal error",
        "message": message,
        "stack": stack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_steps_memo_keeps_only_the_servers_fields() {
        let mut e = SerializedError::new("NonRetriableError", "boom");
        e.stack = Some(String::new());
        e.cause = Some(Box::new(json!({"message": "root"})));
        assert_eq!(
            step_failure_memo(Some(&e), true),
            json!({"error": {"name": "NonRetriableError", "message": "boom",
                             "noRetry": true, "cause": {"message": "root"}}})
        );
        // No header: no `noRetry`, and `__serialized` is dropped either way.
        assert_eq!(
            step_failure_memo(Some(&e), false)["error"]
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["name".into(), "message".into(), "cause".into()])
        );
        assert_eq!(
            step_failure_memo(None, false),
            json!({"error": {"name": "", "message": ""}})
        );
    }

    #[test]
    fn the_standard_error_takes_the_bodys_fields_and_the_reason() {
        let body = json!({"name": "Error", "message": "boom", "stack": "at f"});
        assert_eq!(
            standard_error(Some(&body), Some("invalid status code: 500")),
            json!({"error": "invalid status code: 500", "name": "Error",
                   "message": "boom", "stack": "at f"})
        );
        // An `error` field holding the SDK's error wins over the envelope.
        let wrapped = json!({"error": "{\"name\":\"TypeError\",\"message\":\"x\"}"});
        assert_eq!(
            standard_error(Some(&wrapped), Some("NonRetriableError")),
            json!({"error": "NonRetriableError", "name": "TypeError", "message": "x"})
        );
        assert_eq!(
            standard_error(Some(&json!("plain text")), Some("invalid status code: 502")),
            json!({"error": "invalid status code: 502", "name": "Error", "message": "plain text"})
        );
        assert_eq!(
            standard_error(None, None),
            json!({"error": DEFAULT_MESSAGE, "name": "Error", "message": DEFAULT_MESSAGE})
        );
    }

    #[test]
    fn a_fatal_upstream_error_names_the_status_and_keeps_the_body() {
        let e = fatal_upstream(502, "<html>bad gateway</html>", Some("text/html"));
        assert_eq!(e["name"], "Server returned a fatal error");
        assert_eq!(
            e["message"],
            "Your server returned HTTP 502 before the SDK responded."
        );
        let stack = e["stack"].as_str().unwrap_or_default();
        assert!(stack.ends_with("Upstream response (text/html):\n<html>bad gateway</html>"));
        let long = "é".repeat(MAX_UPSTREAM_BODY + 5);
        let e = fatal_upstream(500, &long, None);
        let stack = e["stack"].as_str().unwrap_or_default();
        assert!(stack.contains("(unknown content-type)"));
        assert!(stack.ends_with("… (truncated)"));
    }
}
