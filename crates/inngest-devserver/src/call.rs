//! Calling the SDK: the execution request a queue item becomes, and what its answer means.

use std::time::Duration;

use inngest_runtime::protocol::{GeneratorOp, SerializedError, headers};
use serde_json::{Value, json};

use crate::run::Run;

/// Everything needed to call the SDK for one queue item, taken from the run at dispatch.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// The function's URL with `fnId` (and `stepId=step`).
    pub url: String,
    /// `step` or a hashed id.
    pub step_id: String,
    /// The JSON body.
    pub body: Value,
}

impl CallRequest {
    /// Builds the request for `run` at `attempt`. `checkpoint` is `(fn uuid, qi id)` when the
    /// SDK may checkpoint (only for discovery calls without forced planning, as the SDK checks).
    pub fn new(
        run: &Run,
        function_url: &str,
        step_id: &str,
        attempt: u32,
        checkpoint: Option<(&str, &str)>,
    ) -> Self {
        let mut ctx = json!({
            "run_id": run.id,
            "attempt": attempt,
            "max_attempts": run.max_attempts,
            "disable_immediate_execution": run.force_plan,
            "use_api": false,
            "stack": { "stack": run.stack, "current": run.stack.len().saturating_sub(1) },
        });
        if let Some((fn_id, qi_id)) = checkpoint {
            ctx["fn_id"] = json!(fn_id);
            ctx["qi_id"] = json!(qi_id);
            ctx["step_id"] = json!(step_id);
        }
        let body = json!({
            "event": run.event,
            "events": run.events,
            "steps": run.memo,
            "ctx": ctx,
            "version": run.version,
            "use_api": false,
        });
        Self {
            url: with_step_id(function_url, step_id),
            step_id: step_id.to_string(),
            body,
        }
    }
}

/// Replaces (or adds) the `stepId` query parameter.
fn with_step_id(url: &str, step_id: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("stepId="))
        .map(str::to_string)
        .collect();
    parts.push(format!("stepId={step_id}"));
    format!("{base}?{}", parts.join("&"))
}

/// What an SDK answer means for the run.
#[derive(Debug)]
pub enum CallOutcome {
    /// 200: the function returned this output.
    Done(Value),
    /// 206: ops to act on.
    Ops(Vec<GeneratorOp>),
    /// A function-level error.
    Error {
        /// No retry may follow.
        final_error: bool,
        /// The SDK's requested delay.
        retry_after: Option<Duration>,
        /// The error as sent.
        error: Value,
    },
    /// The app could not be reached (refused, reset, timeout): nothing ran.
    Unreachable(reqwest::Error),
}

/// An SDK answer, classified, with what the response said about itself.
#[derive(Debug)]
pub struct CallResult {
    /// The outcome.
    pub outcome: CallOutcome,
    /// `x-inngest-req-version`.
    pub version: Option<i64>,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
}

/// Sends the request and classifies the answer.
pub async fn send(http: &reqwest::Client, req: &CallRequest) -> CallResult {
    let resp = http
        .post(&req.url)
        .header("content-type", "application/json")
        .header(headers::SERVER_KIND, "dev")
        .header(headers::STEP_ID, &req.step_id)
        .json(&req.body)
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            return CallResult {
                outcome: CallOutcome::Unreachable(e),
                version: None,
                status: None,
            };
        }
    };
    let mut status = resp.status().as_u16();
    let mut head: std::collections::HashMap<String, String> = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let text = resp.text().await.unwrap_or_default();
    let mut body: Value = serde_json::from_str(text.trim()).unwrap_or(Value::String(text));
    if status == 201 {
        // Streaming (INNGEST_STREAMING): keep-alive whitespace, then the real answer as
        // `{status, body, headers}`, whose headers override the outer ones.
        if let Some(real) = body.get("status").and_then(Value::as_u64) {
            status = u16::try_from(real).unwrap_or(500);
            if let Some(Value::Object(h)) = body.get("headers") {
                for (k, v) in h {
                    if let Some(v) = v.as_str() {
                        head.insert(k.to_ascii_lowercase(), v.to_string());
                    }
                }
            }
            body = match body.get("body").cloned().unwrap_or(Value::Null) {
                Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
                other => other,
            };
        }
    }
    let get = |name: &str| head.get(name).map(String::as_str);
    let version = get(headers::REQ_VERSION).and_then(|v| v.parse().ok());
    let no_retry = get(headers::NO_RETRY) == Some("true");
    let retry_after = get(headers::RETRY_AFTER).and_then(parse_retry_after);
    let from_sdk = get(headers::SDK).is_some();
    let outcome = classify(status, from_sdk, no_retry, retry_after, body);
    CallResult {
        outcome,
        version,
        status: Some(status),
    }
}

fn classify(
    status: u16,
    from_sdk: bool,
    no_retry: bool,
    retry_after: Option<Duration>,
    body: Value,
) -> CallOutcome {
    if !from_sdk {
        // Not an SDK answer (a proxy's page, another server): a failed attempt.
        let error = SerializedError::new(
            "Error",
            format!("the app answered {status} without an x-inngest-sdk header"),
        );
        return CallOutcome::Error {
            final_error: false,
            retry_after: None,
            error: json!(error),
        };
    }
    match status {
        200 => CallOutcome::Done(body),
        206 => match serde_json::from_value::<Vec<GeneratorOp>>(body.clone()) {
            Ok(ops) => CallOutcome::Ops(ops),
            Err(e) => CallOutcome::Error {
                final_error: false,
                retry_after: None,
                error: json!(SerializedError::new(
                    "Error",
                    format!("the SDK answered 206 with ops that do not parse: {e}")
                )),
            },
        },
        _ => CallOutcome::Error {
            final_error: no_retry,
            retry_after,
            error: body,
        },
    }
}

/// `Retry-After`: seconds, or an RFC 3339 / HTTP date (then relative to now).
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc3339(value)
        .or_else(|_| chrono::DateTime::parse_from_rfc2822(value))
        .ok()?;
    let ms = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_replace_the_registered_one() {
        assert_eq!(
            with_step_id("http://a/api/inngest?fnId=app-f&stepId=step", "abc"),
            "http://a/api/inngest?fnId=app-f&stepId=abc"
        );
        assert_eq!(with_step_id("http://a/x", "step"), "http://a/x?stepId=step");
    }

    #[test]
    fn answers_are_classified_by_status_and_headers() {
        assert!(matches!(
            classify(500, true, true, None, json!({})),
            CallOutcome::Error {
                final_error: true,
                ..
            }
        ));
        // Python sends final errors as 500 with the header; JS as 400 with it.
        assert!(matches!(
            classify(400, true, false, None, json!({})),
            CallOutcome::Error {
                final_error: false,
                ..
            }
        ));
        assert!(matches!(
            classify(200, false, false, None, json!(1)),
            CallOutcome::Error {
                final_error: false,
                ..
            }
        ));
        assert!(matches!(
            classify(200, true, false, None, json!(1)),
            CallOutcome::Done(_)
        ));
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
