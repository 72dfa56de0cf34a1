//! `PUT`: syncing the app's functions with the server.

use http::StatusCode;
use serde_json::{Value, json};

use super::ServeHandler;
use super::introspection;
use super::respond::Reply;
use crate::protocol::headers;
use crate::protocol::sync::{RegisterRequest, RegisterResponse};

/// Out-of-band: POST the functions to `{api}/fn/register` and report how it went.
///
/// In cloud mode the URL Inngest will call (with signed requests carrying user data) never
/// comes from the request: it is `INNGEST_SERVE_ORIGIN` (or `serve_origin` in the config), and
/// without one the sync is refused. Not even a signed request's `Host` is trusted, since a
/// signature covers only the body and its time: a signed request seen in the last five
/// minutes (a `GET`, an execution) could be sent again as a `PUT` with any `Host`.
pub(crate) async fn out_of_band(
    handler: &ServeHandler,
    parts: &http::request::Parts,
    deploy_id: Option<&str>,
    server_kind: Option<&str>,
) -> Reply {
    let client = &handler.app.client;
    let config = client.config();
    if config.mode == crate::config::Mode::Cloud && config.serve_origin.is_none() {
        tracing::warn!(
            "refused an out-of-band sync: in cloud mode the serve origin must be configured"
        );
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "Error",
            "Refusing an out-of-band sync in cloud mode without a configured serve origin: set \
             INNGEST_SERVE_ORIGIN to the app's public origin (the URL Inngest will call), or \
             sync from the Inngest dashboard (an in-band sync, which takes the URL from its \
             signed body)"
                .into(),
            false,
        );
    }
    let url = handler.serve_url(parts);
    let body = RegisterRequest {
        url: url.clone(),
        deploy_type: "ping".into(),
        framework: handler.framework.into(),
        app_name: client.app_id().into(),
        functions: handler.app.function_configs(&url, "http"),
        sdk: format!("{}:v{}", headers::SDK_LANGUAGE, headers::SDK_VERSION),
        v: "0.1".into(),
        capabilities: match introspection::capabilities() {
            Value::Object(m) => m,
            _ => Default::default(),
        },
        app_version: None,
    };
    let mut register = format!("{}/fn/register", config.api_origin());
    if let Some(d) = deploy_id {
        register.push_str("?deployId=");
        register.push_str(&form_urlencoded::byte_serialize(d.as_bytes()).collect::<String>());
    }
    let mut req = client
        .http()
        .post(register)
        .header(headers::SDK, headers::sdk_header_value())
        .header(headers::SYNC_KIND, "out_of_band")
        .header(headers::FRAMEWORK, handler.framework)
        .json(&body);
    if let Some(bearer) = config.signing_key_bearer() {
        req = req.bearer_auth(bearer);
    }
    if let Some(kind) = server_kind {
        req = req.header(headers::EXPECTED_SERVER_KIND, kind);
    }
    if let Some(env) = &config.env {
        req = req.header(headers::ENV, env);
    }
    let failed = |message: String| {
        tracing::warn!(%message, "sync failed");
        Reply::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "message": message, "modified": false }),
        )
        .header(headers::SYNC_KIND, "out_of_band")
    };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return failed(format!("could not reach the Inngest API to register: {e}")),
    };
    let status = resp.status();
    let text = match crate::capped_body::read_capped(resp, crate::capped_body::MAX_API_ANSWER).await
    {
        Ok(body) => String::from_utf8_lossy(&body).into_owned(),
        Err(e) => {
            return failed(format!(
                "the Inngest API's answer to the sync could not be read ({status}): {}",
                crate::error::chain(&e)
            ));
        }
    };
    let reply: RegisterResponse = serde_json::from_str(&text).unwrap_or_default();
    if !status.is_success() {
        let message = reply.error.unwrap_or(text);
        return failed(format!(
            "the Inngest API refused the sync ({status}): {message}"
        ));
    }
    tracing::info!(functions = handler.app.functions.len(), %url, "synced");
    Reply::json(
        StatusCode::OK,
        &json!({ "message": "Successfully registered", "modified": reply.modified }),
    )
    .header(headers::SYNC_KIND, "out_of_band")
}

/// In-band: answer with the functions; the server stores them.
pub(crate) fn in_band(handler: &ServeHandler, body: &[u8], authenticated: bool) -> Reply {
    let url = match serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["url"].as_str().map(str::to_string))
    {
        Some(u) => u,
        None => {
            return Reply::error_json(
                StatusCode::BAD_REQUEST,
                "in-band sync body must be {\"url\": \"<serve url>\"}".into(),
            );
        }
    };
    let client = &handler.app.client;
    let (language, version) = if authenticated {
        (headers::SDK_LANGUAGE, headers::SDK_VERSION)
    } else {
        ("", "")
    };
    let body = json!({
        "app_id": client.app_id(),
        "capabilities": introspection::capabilities(),
        "env": client.config().env,
        "framework": handler.framework,
        "functions": handler.app.function_configs(&url, "http"),
        "inspection": introspection::body(handler, authenticated),
        "sdk_author": headers::SDK_AUTHOR,
        "sdk_language": language,
        "sdk_version": version,
        "sdk": format!("{}:v{}", headers::SDK_LANGUAGE, headers::SDK_VERSION),
        "url": url,
    });
    Reply::json(StatusCode::OK, &body).header(headers::SYNC_KIND, "in_band")
}
