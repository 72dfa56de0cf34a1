//! Calling the SDK: the execution request a queue item becomes, and what its answer means.

use inngest_runtime::protocol::{GeneratorOp, headers};
use serde_json::Value;

use crate::run::Run;
use inngest_runtime::capped_body::CappedBodyError;

/// The largest answer an app may send, as the Go executor's `MaxSDKResponseBodySize` (a step's
/// 4 MiB output and 4 MiB input): a larger one fails the attempt.
const MAX_CALL_ANSWER: usize = 8 * 1024 * 1024;

/// Everything needed to call the SDK for one queue item, taken from the run at dispatch.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// The function's URL with `fnId` (and `stepId=step`).
    pub url: String,
    /// `step` or a hashed id.
    pub step_id: String,
    /// The JSON body, serialized.
    pub body: bytes::Bytes,
}

impl CallRequest {
    /// Builds the request for `run` at `attempt`, as the Go driver does (`driver.MarshalV1`).
    ///
    /// - `outgoing` is the step the run comes from (none for the first call); `ctx.stack.current`
    ///   is its 1-based place in the stack, or 0.
    /// - `ctx.step_id` is the registered step, `"step"`, on every call; the hashed id of a
    ///   targeted call travels only in `?stepId=` and `X-Inngest-Step-ID`.
    /// - `force_plan` is `disable_immediate_execution`.
    /// - Every event gets `user: {}` when it has none.
    /// - `checkpoint` is `(fn uuid, qi id)` when the SDK may checkpoint (only for discovery calls
    ///   without forced planning, as the SDK checks).
    ///
    /// The body is written straight from the run (its events and memo are not copied first).
    pub fn new(
        run: &Run,
        function_url: &str,
        call: &CallSpec<'_>,
        checkpoint: Option<(&str, &str)>,
    ) -> Self {
        let current = call
            .outgoing
            .and_then(|o| run.stack.iter().position(|s| s == o))
            .map_or(0, |p| p + 1);
        let body = Body {
            event: WithUser(&run.event),
            events: Events(&run.events),
            steps: &run.memo,
            ctx: Ctx {
                run_id: &run.id,
                step_id: "step",
                attempt: call.attempt,
                max_attempts: run.max_attempts,
                disable_immediate_execution: call.force_plan,
                use_api: false,
                stack: Stack {
                    stack: &run.stack,
                    current,
                },
                fn_id: checkpoint.map(|(fn_id, _)| fn_id),
                qi_id: checkpoint.map(|(_, qi_id)| qi_id),
            },
            version: run.version,
            use_api: false,
        };
        // Writing JSON of `Value`s and plain fields into memory cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        Self {
            url: with_step_id(function_url, call.step_id),
            step_id: call.step_id.to_string(),
            body: body.into(),
        }
    }
}

/// An execution request's body, borrowed from the run.
#[derive(serde::Serialize)]
struct Body<'a> {
    event: WithUser<'a>,
    events: Events<'a>,
    steps: &'a serde_json::Map<String, Value>,
    ctx: Ctx<'a>,
    version: i64,
    use_api: bool,
}

/// Its `ctx`.
#[derive(serde::Serialize)]
struct Ctx<'a> {
    run_id: &'a str,
    step_id: &'static str,
    attempt: u32,
    max_attempts: u32,
    disable_immediate_execution: bool,
    use_api: bool,
    stack: Stack<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fn_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qi_id: Option<&'a str>,
}

/// `ctx.stack`.
#[derive(serde::Serialize)]
struct Stack<'a> {
    stack: &'a [String],
    current: usize,
}

/// An event as the driver sends it: `user: {}` when it has none (or it is null).
struct WithUser<'a>(&'a Value);

impl serde::Serialize for WithUser<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(o) = self.0 else {
            return self.0.serialize(serializer);
        };
        let empty = serde_json::Map::new();
        let has_user = o.get("user").is_some_and(|u| !u.is_null());
        let mut map =
            serializer.serialize_map(Some(o.len() + usize::from(!o.contains_key("user"))))?;
        for (k, v) in o {
            if k == "user" && !has_user {
                map.serialize_entry(k, &empty)?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        if !o.contains_key("user") {
            map.serialize_entry("user", &empty)?;
        }
        map.end()
    }
}

/// The run's events, each [`WithUser`].
struct Events<'a>(&'a [Value]);

impl serde::Serialize for Events<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(WithUser))
    }
}

/// What one call is: the queue item's view of the run.
#[derive(Debug, Clone, Copy)]
pub struct CallSpec<'a> {
    /// `step` or a hashed id.
    pub step_id: &'a str,
    /// 0-based attempt.
    pub attempt: u32,
    /// The step the run comes from, if any.
    pub outgoing: Option<&'a str>,
    /// `disable_immediate_execution`.
    pub force_plan: bool,
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
    /// A 2xx from the SDK (not 206): the function returned this output.
    Done(Value),
    /// 206 from the SDK: ops to act on, with what the answer's headers say about retrying.
    Ops {
        /// The ops.
        ops: Vec<GeneratorOp>,
        /// `X-Inngest-No-Retry: true`: a `StepError` among them fails its step at once.
        no_retry: bool,
        /// `Retry-After`, as sent.
        retry_after: Option<String>,
    },
    /// A failed attempt.
    Error {
        /// No retry may follow.
        final_error: bool,
        /// `Retry-After`, as sent.
        retry_after: Option<String>,
        /// What the run records as its output if this is its last attempt.
        output: Value,
        /// Why the attempt failed, in the Go driver's words (`invalid status code: 500`,
        /// `NonRetriableError`, `The response did not come from an Inngest SDK`).
        reason: String,
    },
    /// The app could not be reached (refused, reset, timeout): nothing ran.
    Unreachable(String),
}

/// An SDK answer, classified, with what the response said about itself.
#[derive(Debug)]
pub struct CallResult {
    /// The outcome.
    pub outcome: CallOutcome,
    /// `x-inngest-req-version` (missing or unreadable: 0, as the Go driver reads it).
    pub version: i64,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
}

/// The headers of an answer that decide what it means.
#[derive(Debug, Default)]
struct AnswerHeaders {
    /// `x-inngest-sdk` is present and not empty.
    from_sdk: bool,
    /// `x-inngest-no-retry` is exactly `true`.
    no_retry: bool,
    retry_after: Option<String>,
    content_type: Option<String>,
}

/// Sends the request and classifies the answer.
pub async fn send(http: &reqwest::Client, req: &CallRequest) -> CallResult {
    let resp = http
        .post(&req.url)
        .header("content-type", "application/json")
        .header(headers::SERVER_KIND, "dev")
        .header(headers::STEP_ID, &req.step_id)
        .body(req.body.clone())
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        // Nothing ran: the app is not there (yet).
        Err(e) if e.is_connect() => {
            return unreachable(crate::error_chain(&e));
        }
        // The app took the request and did not answer in time, or broke off: a failed
        // attempt, as the Go driver's "error performing request".
        Err(e) => {
            return CallResult {
                outcome: driver_error(format!(
                    "error performing request: {}",
                    crate::error_chain(&e)
                )),
                version: 0,
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
    // A body cut off (a connection closed before `Content-Length` bytes) is a failed
    // attempt, not an empty answer; so is one over the Go executor's limit, which is never
    // held whole.
    let mut text = match inngest_runtime::capped_body::read_capped(resp, MAX_CALL_ANSWER).await {
        Ok(bytes) => String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(CappedBodyError::TooLarge { .. }) => {
            return CallResult {
                outcome: too_large(),
                version: 0,
                status: Some(status),
            };
        }
        Err(e) => {
            return CallResult {
                outcome: driver_error(format!(
                    "error reading the response body: {}",
                    crate::error_chain(&e)
                )),
                version: 0,
                status: Some(status),
            };
        }
    };
    if status == 201 {
        // Streaming (INNGEST_STREAMING): keep-alive whitespace, then the real answer as
        // `{status, body, headers}`, whose headers override the outer ones.
        if let Ok(envelope) = serde_json::from_str::<Value>(text.trim()) {
            if let Some(real) = envelope.get("status").and_then(Value::as_u64) {
                status = u16::try_from(real).unwrap_or(500);
                if let Some(Value::Object(h)) = envelope.get("headers") {
                    for (k, v) in h {
                        if let Some(v) = v.as_str() {
                            head.insert(k.to_ascii_lowercase(), v.to_string());
                        }
                    }
                }
                text = match envelope.get("body") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
            }
        }
    }
    answer_of(status, &head, &text)
}

/// An answer from an app in this process ([`crate::in_process`]), read as the HTTP answer it
/// is.
pub(crate) fn from_response(resp: &axum::http::Response<axum::body::Bytes>) -> CallResult {
    let head: std::collections::HashMap<String, String> = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let text = String::from_utf8_lossy(resp.body());
    answer_of(resp.status().as_u16(), &head, &text)
}

/// Classifies an answer by its status, headers and body.
fn answer_of(
    status: u16,
    head: &std::collections::HashMap<String, String>,
    text: &str,
) -> CallResult {
    let get = |name: &str| head.get(name).map(String::as_str);
    let version = get(headers::REQ_VERSION)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let answer = AnswerHeaders {
        from_sdk: get(headers::SDK).is_some_and(|v| !v.is_empty()),
        no_retry: get(headers::NO_RETRY) == Some("true"),
        retry_after: get(headers::RETRY_AFTER).map(str::to_string),
        content_type: get("content-type").map(str::to_string),
    };
    CallResult {
        outcome: classify(status, &answer, text),
        version,
        status: Some(status),
    }
}

/// A connect worker's reply, read as the HTTP answer it stands for: `DONE` is a 200,
/// `NOT_COMPLETED` a 206 and `ERROR` a 500, with the reply's no-retry, retry-after and version.
pub(crate) fn from_connect(reply: &inngest_runtime::protocol::connect::SdkResponse) -> CallResult {
    use inngest_runtime::protocol::connect::SdkResponseStatus;
    let status = match reply.status() {
        SdkResponseStatus::Done => 200,
        SdkResponseStatus::NotCompleted => 206,
        _ => 500,
    };
    // The same limit as an answer over HTTP.
    if reply.body.len() > MAX_CALL_ANSWER {
        return CallResult {
            outcome: too_large(),
            version: 0,
            status: Some(status),
        };
    }
    let answer = AnswerHeaders {
        from_sdk: true,
        no_retry: reply.no_retry,
        retry_after: reply.retry_after.clone(),
        content_type: Some("application/json".into()),
    };
    let text = String::from_utf8_lossy(&reply.body);
    CallResult {
        outcome: classify(status, &answer, &text),
        version: i64::from(reply.request_version),
        status: Some(status),
    }
}

/// Nothing ran: the app (or, for a connect app, any worker of it) is not there. No attempt is
/// used up.
pub(crate) fn unreachable(reason: String) -> CallResult {
    CallResult {
        outcome: CallOutcome::Unreachable(reason),
        version: 0,
        status: None,
    }
}

/// A failed attempt of the executor's own (no answer to read).
pub(crate) fn failed_attempt(reason: String) -> CallResult {
    CallResult {
        outcome: driver_error(reason),
        version: 0,
        status: None,
    }
}

/// A body as the Go driver parses an output: JSON (a string holding a JSON object is
/// unwrapped), else the text itself.
fn parse_output(text: &str) -> Value {
    let trimmed = text.trim();
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(inner @ Value::Object(_)) => inner,
            _ => Value::String(s),
        },
        Ok(v) => v,
        Err(_) => Value::String(text.to_string()),
    }
}

/// What an answer means, as the Go driver decides (`httpdriver.HandleHttpResponse`).
fn classify(status: u16, h: &AnswerHeaders, text: &str) -> CallOutcome {
    let success = (200..300).contains(&status);
    let failed = |output: Value, reason: String| CallOutcome::Error {
        final_error: h.no_retry,
        retry_after: h.retry_after.clone(),
        output,
        reason,
    };
    if status == 206 {
        // The ops are read first, whoever answered (`httpdriver` parses before it checks the
        // SDK header).
        let ops = match parse_ops(text) {
            Ok(ops) => ops,
            Err(reason) => return driver_error(reason),
        };
        if !h.from_sdk {
            return failed(Value::String(text.to_string()), NOT_SDK.into());
        }
        return CallOutcome::Ops {
            ops,
            no_retry: h.no_retry,
            retry_after: h.retry_after.clone(),
        };
    }
    if !h.from_sdk {
        // Not an SDK answer (a proxy's page, another server): a failed attempt. A 2xx keeps
        // its body as the output; anything else gets an error that says what happened.
        return if success {
            failed(parse_output(text), NOT_SDK.into())
        } else {
            failed(
                crate::error_object::fatal_upstream(status, text, h.content_type.as_deref()),
                format!("invalid status code: {status}"),
            )
        };
    }
    match status {
        // A 2xx that asks not to be retried, or to be retried later, is an error (the Go
        // driver's `NonRetriableError` and "retry at").
        _ if success && h.no_retry => failed(parse_output(text), "NonRetriableError".into()),
        _ if success && h.retry_after.is_some() => failed(parse_output(text), "retry at".into()),
        _ if success => CallOutcome::Done(parse_output(text)),
        _ => {
            let reason = if h.no_retry {
                "NonRetriableError".to_string()
            } else {
                format!("invalid status code: {status}")
            };
            failed(parse_output(text), reason)
        }
    }
}

/// The ops of a 206, as the Go driver reads them (`httpdriver/parse.go`): an array of ops (an
/// empty one is no op), or one op object as 0.x SDKs sent it.
fn parse_ops(text: &str) -> Result<Vec<GeneratorOp>, String> {
    let trimmed = text.trim();
    let prefix = "error reading generator opcode response";
    match trimmed.as_bytes().first() {
        None => Err("no response data".into()),
        Some(b'[') => serde_json::from_str(trimmed).map_err(|e| format!("{prefix}: {e}")),
        Some(b'{') => serde_json::from_str::<GeneratorOp>(trimmed)
            .map(|op| vec![op])
            .map_err(|e| format!("{prefix}: {e}")),
        Some(_) => Err(format!("{prefix}: expected JSON object or array")),
    }
}

/// Go's `ErrNotSDK`.
const NOT_SDK: &str = "The response did not come from an Inngest SDK";

/// An answer that cannot be read (its ops, its body): a failed attempt, retried, with the
/// error shaped as the Go executor shapes a driver error.
/// An answer over [`MAX_CALL_ANSWER`]: a failed attempt, with the Go driver's message.
fn too_large() -> CallOutcome {
    driver_error(format!(
        "Your function's response body exceeds the maximum size limit ({MAX_CALL_ANSWER} bytes)"
    ))
}

fn driver_error(reason: String) -> CallOutcome {
    CallOutcome::Error {
        final_error: false,
        retry_after: None,
        output: crate::error_object::executor_error(&reason, "Error", &reason),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_is_the_go_drivers_with_user_filled_in() {
        let run: Run = serde_json::from_value(json!({
            "id": "01RUN", "function_id": "app-fn", "app_id": "app",
            "event": {"name": "a", "data": {"n": 1}, "user": null},
            "events": [
                {"name": "a", "data": {"n": 1}, "user": null},
                {"name": "b", "data": {}, "user": {"id": 7}},
                {"name": "c", "data": {}},
            ],
            "memo": {"h1": {"data": 2}}, "stack": ["h1"], "status": "Running", "output": null,
            "started_at_ms": 1000, "ended_at_ms": null, "version": 2, "force_plan": false,
            "pending": {}, "parent": null, "max_attempts": 4, "steps": [],
        }))
        .expect("a run");
        let spec = CallSpec {
            step_id: "step",
            attempt: 1,
            outgoing: Some("h1"),
            force_plan: false,
        };
        let body = |checkpoint| {
            let req = CallRequest::new(&run, "http://a/api?fnId=f", &spec, checkpoint);
            serde_json::from_slice::<Value>(&req.body).expect("JSON")
        };
        let ctx = json!({
            "run_id": "01RUN", "step_id": "step", "attempt": 1, "max_attempts": 4,
            "disable_immediate_execution": false, "use_api": false,
            "stack": {"stack": ["h1"], "current": 1},
        });
        assert_eq!(
            body(None),
            json!({
                "event": {"name": "a", "data": {"n": 1}, "user": {}},
                "events": [
                    {"name": "a", "data": {"n": 1}, "user": {}},
                    {"name": "b", "data": {}, "user": {"id": 7}},
                    {"name": "c", "data": {}, "user": {}},
                ],
                "steps": {"h1": {"data": 2}},
                "ctx": ctx,
                "version": 2,
                "use_api": false,
            })
        );
        let checkpointing = body(Some(("uuid-1", "qi-1")));
        assert_eq!(checkpointing["ctx"]["fn_id"], json!("uuid-1"));
        assert_eq!(checkpointing["ctx"]["qi_id"], json!("qi-1"));
        assert!(body(None)["ctx"].get("fn_id").is_none());
    }

    #[test]
    fn step_ids_replace_the_registered_one() {
        assert_eq!(
            with_step_id("http://a/api/inngest?fnId=app-f&stepId=step", "abc"),
            "http://a/api/inngest?fnId=app-f&stepId=abc"
        );
        assert_eq!(with_step_id("http://a/x", "step"), "http://a/x?stepId=step");
    }

    fn sdk(no_retry: bool, retry_after: Option<&str>) -> AnswerHeaders {
        AnswerHeaders {
            from_sdk: true,
            no_retry,
            retry_after: retry_after.map(str::to_string),
            content_type: None,
        }
    }

    /// A connect reply is held to the same 8 MiB as an answer over HTTP: over it, the attempt
    /// fails (and may be retried) with the Go driver's message.
    #[test]
    fn a_connect_reply_over_the_answer_limit_fails_its_attempt() {
        use inngest_runtime::protocol::connect::{SdkResponse, SdkResponseStatus};
        let reply = |body: Vec<u8>| SdkResponse {
            status: SdkResponseStatus::Done as i32,
            body,
            request_version: 2,
            ..SdkResponse::default()
        };
        let over = from_connect(&reply(vec![b' '; MAX_CALL_ANSWER + 1]));
        assert!(
            matches!(
                &over.outcome,
                CallOutcome::Error { final_error: false, reason, .. }
                    if reason.contains("exceeds the maximum size limit")
            ),
            "{:?}",
            over.outcome
        );
        let within = from_connect(&reply(b"{\"ok\":true}".to_vec()));
        assert!(
            matches!(within.outcome, CallOutcome::Done(_)),
            "{:?}",
            within.outcome
        );
    }

    #[test]
    fn answers_are_classified_by_status_and_headers() {
        let final_of = |o: &CallOutcome| match o {
            CallOutcome::Error {
                final_error,
                reason,
                ..
            } => Some((*final_error, reason.clone())),
            _ => None,
        };
        assert_eq!(
            final_of(&classify(500, &sdk(true, None), "{}")),
            Some((true, "NonRetriableError".into()))
        );
        // Python sends final errors as 500 with the header; JS as 400 with it.
        assert_eq!(
            final_of(&classify(400, &sdk(false, None), "{}")),
            Some((false, "invalid status code: 400".into()))
        );
        assert!(matches!(
            classify(200, &sdk(false, None), "1"),
            CallOutcome::Done(_)
        ));
        // A 2xx with no-retry or Retry-After is an error, as in the Go driver.
        assert_eq!(
            final_of(&classify(200, &sdk(true, None), "1")),
            Some((true, "NonRetriableError".into()))
        );
        assert_eq!(
            final_of(&classify(200, &sdk(false, Some("5")), "1")),
            Some((false, "retry at".into()))
        );
        assert!(matches!(
            classify(206, &sdk(true, Some("3")), "[]"),
            CallOutcome::Ops {
                no_retry: true,
                retry_after: Some(_),
                ..
            }
        ));
        assert_eq!(
            final_of(&classify(206, &sdk(false, None), "  ")),
            Some((false, "no response data".into()))
        );
    }

    #[test]
    fn answers_without_the_sdk_header_fail_the_attempt_and_keep_their_body() {
        let plain = AnswerHeaders {
            content_type: Some("text/html".into()),
            ..AnswerHeaders::default()
        };
        match classify(200, &plain, r#"{"hello":"world"}"#) {
            CallOutcome::Error {
                final_error: false,
                output,
                reason,
                ..
            } => {
                assert_eq!(output, json!({"hello": "world"}));
                assert_eq!(reason, NOT_SDK);
            }
            other => panic!("{other:?}"),
        }
        match classify(206, &plain, "[]") {
            CallOutcome::Error { output, .. } => assert_eq!(output, json!("[]")),
            other => panic!("{other:?}"),
        }
        // A 206 whose body is no ops fails on the ops first.
        match classify(206, &plain, "<html>hi</html>") {
            CallOutcome::Error { reason, .. } => assert_eq!(
                reason,
                "error reading generator opcode response: expected JSON object or array"
            ),
            other => panic!("{other:?}"),
        }
        match classify(502, &plain, "<h1>Bad gateway</h1>") {
            CallOutcome::Error { output, reason, .. } => {
                assert_eq!(output["name"], "Server returned a fatal error");
                assert_eq!(reason, "invalid status code: 502");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bodies_are_read_as_the_go_driver_reads_them() {
        assert_eq!(parse_output(r#""{\"a\":1}""#), json!({"a": 1}));
        assert_eq!(parse_output(r#""just text""#), json!("just text"));
        assert_eq!(parse_output("not json"), json!("not json"));
        assert_eq!(parse_output("[1,2]"), json!([1, 2]));
    }
}
