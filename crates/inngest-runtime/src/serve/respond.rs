//! Turning outcomes into HTTP responses, with the SDK's headers and signature.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{Value, json};

use super::ServeHandler;
use crate::error::WorkflowError;
use crate::execution::Outcome;
use crate::protocol::{GeneratorOp, JsonRepr, Opcode, headers};
use crate::signature::VerifiedWith;

/// A response before the SDK headers and signature are added.
pub(crate) struct Reply {
    status: StatusCode,
    body: Bytes,
    extra: Vec<(HeaderName, String)>,
}

impl Reply {
    pub fn json(status: StatusCode, value: &Value) -> Self {
        Self {
            status,
            body: serde_json::to_vec(value).unwrap_or_default().into(),
            extra: Vec::new(),
        }
    }

    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            body: Bytes::new(),
            extra: Vec::new(),
        }
    }

    /// `{"message": …}`, for requests that never reached a function.
    pub fn error_json(status: StatusCode, message: String) -> Self {
        Self::json(status, &json!({ "message": message }))
    }

    /// A serialized error, `{name, message, __serialized}`.
    pub fn error(status: StatusCode, name: &str, message: String, internal: bool) -> Self {
        let mut body = json!({ "name": name, "message": message, "__serialized": true });
        if internal {
            body["type"] = json!("internal");
        }
        Self::json(status, &body)
    }

    /// 500 `{type:"internal", name:"Error", message}`: the executor's request could not be
    /// served (unknown function, unreadable state).
    pub fn internal(message: String) -> Self {
        Self::error(StatusCode::INTERNAL_SERVER_ERROR, "Error", message, true)
    }

    /// Adds a header; `name` is one of [`headers`]' lowercase constants.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        if let Ok(name) = HeaderName::from_lowercase(name.as_bytes()) {
            self.extra.push((name, value.into()));
        }
        self
    }

    pub fn into_response(
        self,
        handler: &ServeHandler,
        server_kind: Option<&str>,
        verified: Option<VerifiedWith>,
    ) -> Response<Bytes> {
        let mut resp = Response::new(Bytes::new());
        *resp.status_mut() = self.status;
        let hs = resp.headers_mut();
        hs.reserve(8 + self.extra.len());
        let sdk = sdk_header();
        hs.insert(http::header::CONTENT_TYPE, APPLICATION_JSON);
        hs.insert(http::header::USER_AGENT, sdk.clone());
        hs.insert(SDK, sdk.clone());
        hs.insert(SDK_HANDLED, TRUE);
        if let Some(v) = &handler.framework_header {
            hs.insert(FRAMEWORK, v.clone());
        }
        hs.insert(REQ_VERSION, REQ_VERSION_VALUE);
        if let Some(kind) = server_kind.and_then(|k| HeaderValue::from_str(k).ok()) {
            hs.insert(EXPECTED_SERVER_KIND, kind);
        }
        for (name, value) in self.extra {
            if let Ok(v) = HeaderValue::from_str(&value) {
                hs.insert(name, v);
            }
        }
        if let Some(which) = verified {
            let config = handler.app.client.config();
            let key = match which {
                VerifiedWith::Primary => config.signing_key.as_deref(),
                VerifiedWith::Fallback => config.signing_key_fallback.as_deref(),
            };
            if let Some(key) = key {
                let sig = crate::signature::sign(key, &self.body, (handler.clock)());
                if let Ok(v) = HeaderValue::from_str(&sig) {
                    hs.insert(SIGNATURE, v);
                }
            }
        }
        *resp.body_mut() = self.body;
        resp
    }
}

// The headers on every answer, built once: parsing a header name or value per response is a
// measurable share of a replayed request (see docs/performance.md).
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const TRUE: HeaderValue = HeaderValue::from_static("true");
const REQ_VERSION_VALUE: HeaderValue = HeaderValue::from_static("2");
const _: () = assert!(
    headers::EXECUTION_VERSION == 2,
    "REQ_VERSION_VALUE names it"
);
const SDK: HeaderName = HeaderName::from_static(headers::SDK);
const SDK_HANDLED: HeaderName = HeaderName::from_static(headers::SDK_HANDLED);
const FRAMEWORK: HeaderName = HeaderName::from_static(headers::FRAMEWORK);
const REQ_VERSION: HeaderName = HeaderName::from_static(headers::REQ_VERSION);
const EXPECTED_SERVER_KIND: HeaderName = HeaderName::from_static(headers::EXPECTED_SERVER_KIND);
const SIGNATURE: HeaderName = HeaderName::from_static(headers::SIGNATURE);

/// `inngest-runtime:v<version>`, as a header value.
fn sdk_header() -> &'static HeaderValue {
    static VALUE: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    VALUE.get_or_init(|| {
        HeaderValue::from_str(&headers::sdk_header_value())
            .unwrap_or_else(|_| HeaderValue::from_static("inngest-runtime"))
    })
}

/// 401 with only the headers the official SDKs keep.
pub(crate) fn unauthorized() -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from_static(br#"{"message":"Unauthorized"}"#));
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    let hs = resp.headers_mut();
    hs.insert("content-type", HeaderValue::from_static("application/json"));
    hs.insert(headers::SDK_HANDLED, HeaderValue::from_static("true"));
    resp
}

fn ops_reply(ops: &[GeneratorOp]) -> Reply {
    Reply {
        status: StatusCode::PARTIAL_CONTENT,
        body: serde_json::to_vec(ops)
            .unwrap_or_else(|_| b"[]".to_vec())
            .into(),
        extra: Vec::new(),
    }
}

fn with_retry_headers(reply: Reply, err: &WorkflowError, final_error: bool) -> Reply {
    let reply = reply.header(
        headers::NO_RETRY,
        if final_error { "true" } else { "false" },
    );
    match (final_error, err.retry_after_header()) {
        (false, Some(after)) => reply.header(headers::RETRY_AFTER, after),
        _ => reply,
    }
}

/// Maps an execution outcome to the response the executor expects.
pub(crate) fn outcome(outcome: Outcome, attempt: u32, max_attempts: u32) -> Reply {
    match outcome {
        Outcome::Returned(Ok(output)) => Reply {
            status: StatusCode::OK,
            body: output.into_bytes(),
            extra: Vec::new(),
        },
        Outcome::Completed(output) => {
            let mut op = GeneratorOp::new(Opcode::RunComplete, crate::step_id::hash("complete"));
            op.data = Some(output.decode().unwrap_or(Value::Null));
            ops_reply(&[op])
        }
        Outcome::Returned(Err(err)) => {
            let final_error = err.is_final(attempt, max_attempts);
            let status = if final_error {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            let body = serde_json::to_value(err.serialized()).unwrap_or(Value::Null);
            with_retry_headers(Reply::json(status, &body), &err, final_error)
        }
        Outcome::Step(interrupt) => {
            let reply = ops_reply(std::slice::from_ref(&interrupt.op));
            match (&interrupt.error, interrupt.op.op) {
                (Some(err), Opcode::StepFailed) => with_retry_headers(reply, err, true),
                (Some(err), _) => with_retry_headers(reply, err, false),
                (None, _) => reply,
            }
        }
        Outcome::Ops(ops) => ops_reply(&ops),
        Outcome::StepNotFound { requested, found } => {
            let listing: Vec<String> = found
                .iter()
                .map(|o| format!("{} ({})", o.display_name.as_deref().unwrap_or(&o.id), o.id))
                .collect();
            let body = json!({
                "error": format!("Could not find step {requested:?} to run; timed out. Found new steps: \n{}.", listing.join("\n")),
                "requestedStep": requested,
                "foundSteps": found.iter().map(|o| json!({
                    "id": o.id, "name": o.name, "displayName": o.display_name,
                })).collect::<Vec<_>>(),
                "totalFoundSteps": found.len(),
            });
            Reply::json(StatusCode::INTERNAL_SERVER_ERROR, &body).header(headers::NO_RETRY, "false")
        }
    }
}
