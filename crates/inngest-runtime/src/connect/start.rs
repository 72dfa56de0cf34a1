//! The start API: `POST {api}/v0/connect/start` with a protobuf `StartRequest`, answered with
//! the gateway to dial and the tokens to present.

use std::time::Duration;

use prost::Message;

use crate::client::Inngest;
use crate::protocol::connect::{StartRequest, StartResponse};

/// Why the start API gave no gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The request failed.
    #[error("the start API at {url} could not be reached")]
    Http {
        /// The URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The signing key was refused (and the fallback key too, if set).
    #[error("the start API refused the signing key (401); check INNGEST_SIGNING_KEY")]
    Unauthorized,
    /// Another status.
    #[error("the start API answered {status}: {message}")]
    Refused {
        /// The status.
        status: u16,
        /// Its body, cut short.
        message: String,
    },
    /// The answer is not a `StartResponse`.
    #[error("the start API's answer is not a StartResponse")]
    Malformed(#[source] prost::DecodeError),
}

/// Asks for a gateway, excluding `exclude` (groups that failed).
pub(super) async fn start(
    client: &Inngest,
    exclude: &[String],
) -> Result<StartResponse, StartError> {
    let config = client.config();
    let url = format!("{}/v0/connect/start", config.api_origin());
    let body = StartRequest {
        exclude_gateways: exclude.to_vec(),
    }
    .encode_to_vec();
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
        let resp = req.send().await.map_err(|source| StartError::Http {
            url: url.clone(),
            source,
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            continue;
        }
        let bytes = resp.bytes().await.map_err(|source| StartError::Http {
            url: url.clone(),
            source,
        })?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(StartError::Refused {
                status: status.as_u16(),
                message: text.chars().take(300).collect(),
            });
        }
        return StartResponse::decode(bytes.as_ref()).map_err(StartError::Malformed);
    }
    Err(StartError::Unauthorized)
}
