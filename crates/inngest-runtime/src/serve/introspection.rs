//! The `GET` introspection body.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ServeHandler;
use crate::config::Mode;
use crate::protocol::headers;

fn short_hash(key: Option<&str>) -> Value {
    match key {
        Some(k) => {
            let hashed = crate::signature::hashed_signing_key(k);
            let hex = hashed.rsplit('-').next().unwrap_or_default();
            json!(hex.get(..12).unwrap_or(hex))
        }
        None => Value::Null,
    }
}

/// The introspection body; authenticated requests (cloud mode, signed) get the full one.
pub(crate) fn body(handler: &ServeHandler, authenticated: bool) -> Value {
    let config = handler.app.client.config();
    let mode = match config.mode {
        Mode::Dev => "dev",
        Mode::Cloud => "cloud",
    };
    let mut body = json!({
        "extra": { "native_crypto": true },
        "has_event_key": config.event_key.is_some(),
        "has_signing_key": config.signing_key.is_some(),
        "function_count": handler.app.functions.len(),
        "mode": mode,
        "schema_version": headers::SCHEMA_VERSION,
    });
    if authenticated {
        body["extra"]["is_streaming"] = json!(false);
        let extra = json!({
            "authentication_succeeded": true,
            "api_origin": config.api_origin(),
            "app_id": handler.app.client.app_id(),
            "capabilities": capabilities(),
            "env": config.env,
            "event_api_origin": config.event_origin(),
            "event_key_hash": config.event_key.as_deref().map(|k| hex::encode(Sha256::digest(k.as_bytes()))),
            "framework": handler.framework,
            "sdk_language": headers::SDK_LANGUAGE,
            "sdk_version": headers::SDK_VERSION,
            "serve_origin": config.serve_origin,
            "serve_path": config.serve_path,
            "signing_key_fallback_hash": short_hash(config.signing_key_fallback.as_deref()),
            "signing_key_hash": short_hash(config.signing_key.as_deref()),
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
    }
    body
}

/// What this SDK can do, as sync payloads declare it.
pub(crate) fn capabilities() -> Value {
    json!({ "trust_probe": "v1", "connect": "v1" })
}
