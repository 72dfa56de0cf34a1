//! Serve mode: one endpoint (conventionally `/api/inngest`) that the Inngest server calls.
//!
//! | method | action |
//! | --- | --- |
//! | `GET` | introspection |
//! | `PUT` | sync: out-of-band (the app POSTs its functions to `{api}/fn/register`) or in-band (`X-Inngest-Sync-Kind: in_band`, answered in the response) |
//! | `POST ?fnId=…&stepId=…` | execute a function |
//! | `POST ?probe=trust` | check the signing key |
//!
//! [`ServeHandler`] works on `http` types and knows no framework; [`axum`] adapts it.

#[cfg(feature = "axum")]
pub mod axum;
mod introspection;
mod respond;
mod sync;

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, Request, Response, StatusCode};

use crate::app::App;
use crate::config::Mode;
use crate::execution::{RunRequest, StateShapeError};
use crate::protocol::{headers, request::RequestParseError};
use crate::signature::{self, VerifiedWith};
use respond::Reply;

/// The default request body limit: 16 MiB (the server switches to `use_api` above 4 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How long a request's body may take to arrive, by default: Inngest sends it at once, so
/// this only stops a client that trickles a body to hold a task and its buffer.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an adapter could not read a request's body; [`ServeHandler::refuse_body`] answers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyReadError {
    /// The body is over [`ServeHandler::limit`].
    #[error("request body is over the limit of {limit} bytes")]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The body did not arrive within [`ServeHandler::body_read_timeout`].
    #[error("request body did not arrive within {0:?}")]
    TimedOut(Duration),
    /// The connection failed or sent a malformed body (a client abort, bad chunking).
    #[error("request body could not be read: {0}")]
    Unreadable(String),
}

/// Why the state of a large run (`use_api`) could not be loaded from the API.
#[derive(Debug, thiserror::Error)]
enum LargeStateError {
    /// The request failed or was refused.
    #[error("could not fetch the run's {what}")]
    Fetch {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// The answer was cut off or is over [`MAX_STATE_ANSWER`](crate::capped_body::MAX_STATE_ANSWER).
    #[error("could not download the run's {what}")]
    Download {
        what: &'static str,
        #[source]
        source: crate::capped_body::CappedBodyError,
    },
    /// The answer is not what the API sends.
    #[error("could not read the run's {what}")]
    Read {
        what: &'static str,
        #[source]
        source: StateShapeError,
    },
}

/// Handles serve-mode requests for an [`App`]. Cheap to clone (frameworks clone it per request).
///
/// ```
/// # use inngest_runtime::{App, Inngest, serve::ServeHandler, config::Config};
/// # let app = App::builder(Inngest::with_config("my-app", Config::dev("http://127.0.0.1:8288"))).build().unwrap();
/// let handler = ServeHandler::new(app).framework("axum");
/// # let _ = handler;
/// ```
#[derive(Clone)]
pub struct ServeHandler {
    app: std::sync::Arc<App>,
    framework: &'static str,
    /// `framework` as a header value, made once (none if it is no valid header value).
    framework_header: Option<http::HeaderValue>,
    body_limit: usize,
    body_timeout: Duration,
    clock: fn() -> i64,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The query parameters of a serve request, borrowed from the URI unless percent-encoded.
#[derive(Debug, Default)]
struct Query<'a> {
    fn_id: Option<Cow<'a, str>>,
    step_id: Option<Cow<'a, str>>,
    probe: Option<Cow<'a, str>>,
    deploy_id: Option<Cow<'a, str>>,
}

fn parse_query(q: Option<&str>) -> Query<'_> {
    let q = q.unwrap_or_default();
    // What executors send (`fnId=…&stepId=…`, nothing encoded) is sliced as it is.
    if !q.bytes().any(|b| b == b'%' || b == b'+') {
        let mut out = Query::default();
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match k {
                "fnId" => &mut out.fn_id,
                "stepId" => &mut out.step_id,
                "probe" => &mut out.probe,
                "deployId" => &mut out.deploy_id,
                _ => continue,
            };
            *slot = Some(Cow::Borrowed(v));
        }
        return out;
    }
    let mut out = Query::default();
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        let slot = match k.as_ref() {
            "fnId" => &mut out.fn_id,
            "stepId" => &mut out.step_id,
            "probe" => &mut out.probe,
            "deployId" => &mut out.deploy_id,
            _ => continue,
        };
        *slot = Some(v);
    }
    out
}

fn header<'a>(h: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

// The request headers the endpoint reads, parsed once: looking a header up by a string parses
// the name on every request.
const SERVER_KIND: HeaderName = HeaderName::from_static(headers::SERVER_KIND);
const SYNC_KIND: HeaderName = HeaderName::from_static(headers::SYNC_KIND);
const SIGNATURE: HeaderName = HeaderName::from_static(headers::SIGNATURE);
const STEP_ID: HeaderName = HeaderName::from_static(headers::STEP_ID);
const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

impl ServeHandler {
    /// A handler for `app`. In cloud mode without keys it logs, once, what is missing (see
    /// [`Config::cloud_mode_gap`](crate::config::Config::cloud_mode_gap)).
    pub fn new(app: App) -> Self {
        if let Some(gap) = app.client().config().cloud_mode_gap() {
            tracing::warn!("{gap}");
        }
        Self {
            app: std::sync::Arc::new(app),
            framework: "rust",
            framework_header: Some(http::HeaderValue::from_static("rust")),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            clock: unix_now,
        }
    }

    /// Names the framework in `X-Inngest-Framework` and sync payloads.
    pub fn framework(mut self, name: &'static str) -> Self {
        self.framework = name;
        // Checked first, so that `from_static` (which panics on an invalid value) cannot.
        self.framework_header = http::HeaderValue::from_str(name)
            .is_ok()
            .then(|| http::HeaderValue::from_static(name));
        self
    }

    /// Sets the request body limit (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets how long a request's body may take to arrive (default [`DEFAULT_BODY_TIMEOUT`]).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The configured body timeout, for adapters that read the body.
    pub fn body_read_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// The answer to a request whose body could not be read: `413` over the limit, `408` when
    /// it did not arrive in time, `400` otherwise; a JSON message and the SDK's headers.
    pub fn refuse_body(&self, why: &BodyReadError) -> Response<Bytes> {
        let status = match why {
            BodyReadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyReadError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            BodyReadError::Unreadable(_) => StatusCode::BAD_REQUEST,
        };
        Reply::error_json(status, why.to_string()).into_response(self, None, None)
    }

    /// Replaces the clock used for signature windows (Unix seconds); for tests that replay
    /// recorded signed requests.
    pub fn clock(mut self, now: fn() -> i64) -> Self {
        self.clock = now;
        self
    }

    /// The configured body limit.
    pub fn limit(&self) -> usize {
        self.body_limit
    }

    /// The app served.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Handles one request. `req.uri()` must carry the path and query as received.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let (parts, body) = req.into_parts();
        let server_kind = header(&parts.headers, &SERVER_KIND).map(str::to_string);
        if body.len() > self.body_limit {
            let reply = Reply::error_json(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body of {} bytes is over the limit of {} bytes",
                    body.len(),
                    self.body_limit
                ),
            );
            return reply.into_response(self, server_kind.as_deref(), None);
        }
        let config = self.app.client.config();
        let query = parse_query(parts.uri.query());
        let sync_kind = header(&parts.headers, &SYNC_KIND);
        let out_of_band_put = parts.method == Method::PUT && sync_kind != Some("in_band");
        let mut verified: Option<VerifiedWith> = None;
        if config.mode == Mode::Cloud && out_of_band_put {
            // An out-of-band sync need not be signed (a deploy hook sends it); a signed one is
            // answered signed. Either way its URL is the configured one (`sync::out_of_band`).
            verified = signature::verify(
                header(&parts.headers, &SIGNATURE),
                &body,
                config.signing_key.as_deref(),
                config.signing_key_fallback.as_deref(),
                (self.clock)(),
            )
            .ok();
        } else if config.mode == Mode::Cloud {
            match signature::verify(
                header(&parts.headers, &SIGNATURE),
                &body,
                config.signing_key.as_deref(),
                config.signing_key_fallback.as_deref(),
                (self.clock)(),
            ) {
                Ok(which) => verified = Some(which),
                Err(e) => {
                    tracing::warn!(error = %e, method = %parts.method, "refused an unsigned or badly signed request");
                    return respond::unauthorized();
                }
            }
        }
        let reply = match parts.method {
            Method::GET => Reply::json(
                StatusCode::OK,
                &introspection::body(self, verified.is_some()),
            ),
            Method::PUT if sync_kind == Some("in_band") && config.allow_in_band_sync => {
                sync::in_band(self, &body, verified.is_some())
            }
            Method::PUT => {
                Box::pin(sync::out_of_band(
                    self,
                    &parts,
                    query.deploy_id.as_deref(),
                    server_kind.as_deref(),
                ))
                .await
            }
            Method::POST => self.post(&parts.headers, query, body).await,
            _ => Reply::error_json(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed".into()),
        };
        reply.into_response(self, server_kind.as_deref(), verified)
    }

    /// Runs an execution request from a caller in the same process, with no signature check:
    /// a connect socket (the socket is the proof of where the request came from) or a test
    /// engine. The answer is the one serve mode would give (its status and headers say how it
    /// ended). `step_id` is the `stepId` query parameter (`None` or `"step"` for discovery).
    pub async fn execute_in_process(
        &self,
        fn_id: &str,
        step_id: Option<&str>,
        body: Bytes,
    ) -> Response<Bytes> {
        let query = Query {
            fn_id: Some(Cow::Borrowed(fn_id)),
            step_id: step_id.map(Cow::Borrowed),
            ..Query::default()
        };
        self.post(&HeaderMap::new(), query, body)
            .await
            .into_response(self, None, None)
    }

    async fn post(&self, h: &HeaderMap, query: Query<'_>, body: Bytes) -> Reply {
        if let Some(probe) = query.probe {
            return if probe == "trust" {
                Reply::empty(StatusCode::OK)
            } else {
                Reply::error(
                    StatusCode::BAD_REQUEST,
                    "Error",
                    format!("Unknown probe {probe:?}"),
                    false,
                )
            };
        }
        let Some(fn_id) = query.fn_id else {
            return Reply::internal("No function ID found in async request".into());
        };
        let Some(function) = self.app.function(&fn_id) else {
            return Reply::internal(format!(
                "Function {fn_id:?} was not found in this app; is the app synced correctly?"
            ));
        };
        let mut req = match RunRequest::parse(body) {
            Ok(r) => r,
            Err(e @ RequestParseError::NotJson(_)) => {
                return Reply::error_json(StatusCode::BAD_REQUEST, e.to_string());
            }
            Err(e) => return Reply::internal(e.to_string()),
        };
        if req.use_api || req.ctx.use_api {
            // Boxed, as the sync below: a rare HTTP call's large future would otherwise be
            // part of every request's future, copied whole on every move.
            if let Err(e) = Box::pin(self.fetch_large_state(&mut req)).await {
                return Reply::internal(crate::error::chain(&e));
            }
        }
        let step_id = query
            .step_id
            .or_else(|| header(h, &STEP_ID).map(Cow::Borrowed));
        let target = step_id
            .filter(|s| s != "step" && !s.is_empty())
            .map(Cow::into_owned);
        let max_attempts = req
            .ctx
            .max_attempts
            .unwrap_or_else(|| function.max_attempts());
        let attempt = req.ctx.attempt;
        let outcome = crate::app::execute(&self.app, function, req, target).await;
        respond::outcome(outcome, attempt, max_attempts)
    }

    /// `use_api`: the state was too large to send; fetch events and steps from the API.
    async fn fetch_large_state(&self, req: &mut RunRequest) -> Result<(), LargeStateError> {
        let config = self.app.client.config();
        let base = &format!("{}/v0/runs/{}", config.api_origin(), req.ctx.run_id);
        let get = |what: &'static str, path: &'static str| async move {
            let mut r = self.app.client.http().get(format!("{base}/{path}"));
            if let Some(b) = config.signing_key_bearer() {
                r = r.bearer_auth(b);
            }
            let fetch = |source| LargeStateError::Fetch { what, source };
            let resp = r
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(fetch)?;
            crate::capped_body::read_capped(resp, crate::capped_body::MAX_STATE_ANSWER)
                .await
                .map(Bytes::from)
                .map_err(|source| LargeStateError::Download { what, source })
        };
        let read = |what| move |source| LargeStateError::Read { what, source };
        let events = get("events", "batch").await?;
        let steps = get("steps", "actions").await?;
        req.replace_events(events).map_err(read("events"))?;
        req.replace_steps(steps).map_err(read("steps"))?;
        Ok(())
    }

    /// The public URL of this endpoint, from the configuration or the request.
    pub(crate) fn serve_url(&self, parts: &http::request::Parts) -> String {
        let config = self.app.client.config();
        let path = config
            .serve_path
            .clone()
            .unwrap_or_else(|| parts.uri.path().to_string());
        let origin = config.serve_origin.clone().unwrap_or_else(|| {
            // `X-Forwarded-Host` is read in dev mode only, where nothing the app registers
            // reaches Inngest Cloud (the official JS SDK never reads it).
            let forwarded = match config.mode {
                Mode::Dev => header(&parts.headers, &FORWARDED_HOST),
                Mode::Cloud => None,
            };
            let host = forwarded
                .or_else(|| header(&parts.headers, &http::header::HOST))
                .or(parts.uri.authority().map(|a| a.as_str()))
                .unwrap_or("localhost");
            let scheme = header(&parts.headers, &FORWARDED_PROTO).unwrap_or("http");
            format!("{scheme}://{host}")
        });
        format!("{}{}", origin.trim_end_matches('/'), path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let q = parse_query(Some("fnId=my-app-a%2Db&stepId=step&deployId=d+1"));
        assert_eq!(q.fn_id.as_deref(), Some("my-app-a-b"));
        assert_eq!(q.step_id.as_deref(), Some("step"));
        assert_eq!(q.deploy_id.as_deref(), Some("d 1"));
        // Nothing encoded: the same answers, sliced from the query; a repeated key keeps its
        // last value and a key without `=` is empty, as `form_urlencoded` reads them.
        for query in [
            "fnId=a&stepId=x&fnId=my-app-a-b&stepId=step&probe&other=1",
            "fnId=a&stepId=x&fnId=my-app-a-b&stepId=step&probe&other=1%21",
        ] {
            let q = parse_query(Some(query));
            assert_eq!(q.fn_id.as_deref(), Some("my-app-a-b"), "{query}");
            assert_eq!(q.step_id.as_deref(), Some("step"), "{query}");
            assert_eq!(q.probe.as_deref(), Some(""), "{query}");
            assert!(q.deploy_id.is_none(), "{query}");
        }
        assert!(parse_query(None).fn_id.is_none());
    }
}
