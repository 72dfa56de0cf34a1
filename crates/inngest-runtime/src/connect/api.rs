//! The connect API, beside the socket: `POST {api}/v0/connect/start` (a protobuf
//! `StartRequest`, answered with the gateway to dial and the tokens to present) and
//! `POST {api}/v0/connect/flush` (a reply the socket could not deliver, as a protobuf
//! `SdkResponse`, answered with a `FlushResponse`). Both carry the hashed signing key as bearer
//! (the fallback key after a 401; none in dev mode) and `X-Inngest-Env`.

use std::time::Duration;

use prost::Message;

use crate::client::Inngest;
use crate::protocol::connect::{FlushResponse, SdkResponse, StartRequest, StartResponse};

/// Why a call to the connect API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request failed.
    #[error("the connect API at {url} could not be reached")]
    Http {
        /// The URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The answer was cut off, or is over 1 MiB.
    #[error("the connect API's answer at {url} could not be read")]
    Answer {
        /// The URL.
        url: String,
        /// Why.
        source: crate::capped_body::CappedBodyError,
    },
    /// The signing key was refused (and the fallback key too, if set).
    #[error("the connect API refused the signing key (401); check INNGEST_SIGNING_KEY")]
    Unauthorized,
    /// Another status.
    #[error("the connect API answered {status}: {message}")]
    Refused {
        /// The status.
        status: u16,
        /// Its body, cut short.
        message: String,
    },
    /// The answer is not the message the call returns.
    #[error("the connect API's answer is not a {0}")]
    Malformed(&'static str, #[source] prost::DecodeError),
}

/// Asks for a gateway, excluding `exclude` (groups that failed).
pub(super) async fn start(client: &Inngest, exclude: &[String]) -> Result<StartResponse, ApiError> {
    let body = StartRequest {
        exclude_gateways: exclude.to_vec(),
    }
    .encode_to_vec();
    let bytes = post(client, "start", body).await?;
    StartResponse::decode(bytes.as_ref()).map_err(|e| ApiError::Malformed("StartResponse", e))
}

/// Delivers a reply through the API instead of the socket.
pub(super) async fn flush(client: &Inngest, reply: &SdkResponse) -> Result<(), ApiError> {
    // The official API reads the trace context as JSON: an empty one is sent as `{}`.
    let body = if reply.system_trace_ctx.is_empty() {
        SdkResponse {
            system_trace_ctx: b"{}".to_vec(),
            ..reply.clone()
        }
        .encode_to_vec()
    } else {
        reply.encode_to_vec()
    };
    let bytes = post(client, "flush", body).await?;
    let answer = FlushResponse::decode(bytes.as_ref())
        .map_err(|e| ApiError::Malformed("FlushResponse", e))?;
    if answer.request_id != reply.request_id {
        tracing::debug!(sent = %reply.request_id, answered = %answer.request_id, "the flush answer names another request");
    }
    Ok(())
}

/// POSTs a protobuf body to `{api}/v0/connect/{call}`; the answer's bytes.
async fn post(client: &Inngest, call: &str, body: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    let config = client.config();
    let url = format!("{}/v0/connect/{call}", config.api_origin());
    let keys = [
        config.signing_key.as_deref(),
        config.signing_key_fallback.as_deref(),
    ];
    let mut tried_one = false;
    for key in keys
        .into_iter()
        .flatten()
        .map(Some)
        .chain(std::iter::once(None))
    {
        // Without keys (dev mode) the request goes once, unsigned; with keys, never unsigned.
        if key.is_none() && tried_one {
            break;
        }
        tried_one = true;
        let mut req = client
            .http()
            .post(&url)
            .timeout(Duration::from_secs(10))
            .header("content-type", "application/protobuf")
            .body(body.clone());
        if let Some(k) = key {
            req = req.bearer_auth(crate::signature::hashed_signing_key(k));
        }
        if let Some(env) = &config.env {
            req = req.header("x-inngest-env", env);
        }
        let resp = req.send().await.map_err(|source| ApiError::Http {
            url: url.clone(),
            source,
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            continue;
        }
        let bytes = crate::capped_body::read_capped(resp, crate::capped_body::MAX_API_ANSWER)
            .await
            .map_err(|source| ApiError::Answer {
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(ApiError::Refused {
                status: status.as_u16(),
                message: text.chars().take(300).collect(),
            });
        }
        return Ok(bytes);
    }
    Err(ApiError::Unauthorized)
}
