//! The protocol view of an answer: what an executor acts on, with the SDK's identity and
//! timings left out. Two answers that agree in this view are the same to Inngest.
//!
//! - the status, and the `x-inngest-no-retry`, `retry-after` and `x-inngest-req-version`
//!   headers where the recording has them;
//! - a 206 body as its ops sorted by id (op, id, name, opts, data, error name and message,
//!   userland id and index);
//! - a 4xx/5xx body as its error name and message;
//! - any other body as its JSON, without the fields that name the SDK.

use serde_json::{Map, Value, json};

/// Headers an executor reads.
pub const PROTOCOL_HEADERS: [&str; 3] =
    ["x-inngest-no-retry", "retry-after", "x-inngest-req-version"];

/// Body fields that name the SDK rather than speak the protocol.
pub const IDENTITY_FIELDS: &[&str] = &[
    "framework",
    "sdk",
    "sdk_author",
    "sdk_language",
    "sdk_version",
    "featureObservations",
];

fn op_view(op: &Value) -> Value {
    let kind = op["op"].as_str().unwrap_or_default();
    let err = &op["error"];
    let userland = &op["userland"];
    let failed = kind == "StepError" || kind == "StepFailed";
    json!({
        "op": op["op"],
        "id": op["id"],
        "name": op.get("name").cloned().unwrap_or(Value::Null),
        "opts": if op["opts"].is_null() { json!({}) } else { op["opts"].clone() },
        "data": if failed { Value::Null } else { op.get("data").cloned().unwrap_or(Value::Null) },
        "error": if err.is_object() { json!({ "name": err["name"], "message": err["message"] }) } else { err.clone() },
        "userland": if userland.is_object() {
            json!({ "id": userland["id"], "index": userland.get("index").cloned().unwrap_or(Value::Null) })
        } else {
            Value::Null
        },
    })
}

fn strip_identity(v: &mut Value) {
    if let Value::Object(m) = v {
        for k in IDENTITY_FIELDS {
            m.remove(*k);
        }
        if let Some(inspection) = m.get_mut("inspection") {
            strip_identity(inspection);
        }
    }
}

/// The protocol view of an answer. `recorded` are the recorded answer's headers: only the
/// protocol headers it has are compared.
pub fn protocol_view(
    status: u16,
    headers: &Map<String, Value>,
    text: &str,
    recorded: &Map<String, Value>,
) -> Value {
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| json!({ "_non_json": text }))
    };
    let mut hs = Map::new();
    for h in PROTOCOL_HEADERS {
        if recorded.contains_key(h) {
            hs.insert(h.into(), headers.get(h).cloned().unwrap_or(Value::Null));
        }
    }
    let mut view = json!({ "status": status, "headers": hs });
    match &body {
        Value::Array(ops) if status == 206 => {
            let mut ops: Vec<Value> = ops.iter().map(op_view).collect();
            ops.sort_by_key(|o| format!("{}{}", o["id"], o["op"]));
            view["ops"] = Value::Array(ops);
        }
        Value::Object(o) if status == 206 && o.contains_key("op") => {
            view["ops"] = json!([op_view(&body)]);
        }
        Value::Object(_) if status >= 400 => {
            view["error"] = json!({ "name": body["name"], "message": body["message"] });
        }
        _ => {
            let mut b = body;
            strip_identity(&mut b);
            view["body"] = b;
        }
    }
    view
}

fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 160 {
        let mut end = 160;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// The differences between `want` and `got`, one line each, as `path: expected …, got …`.
///
/// ```
/// use conformance_app::kit::view::diff;
/// use serde_json::json;
/// assert!(diff(&json!({"a": [1, 2]}), &json!({"a": [1, 2]})).is_empty());
/// assert_eq!(diff(&json!({"a": [1, 2]}), &json!({"a": [1, 3]})), ["/a[1]: expected 2, got 3"]);
/// ```
pub fn diff(want: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_into(want, got, String::new(), &mut out);
    out
}

fn diff_into(want: &Value, got: &Value, path: String, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = format!("{path}/{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff_into(x, y, p, out),
                    (Some(x), None) => out.push(format!("{p}: expected {}, missing", short(x))),
                    (None, Some(y)) => out.push(format!("{p}: not recorded, got {}", short(y))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_into(x, y, format!("{path}[{i}]"), out);
            }
        }
        _ if want != got => out.push(format!(
            "{path}: expected {}, got {}",
            short(want),
            short(got)
        )),
        _ => {}
    }
}
