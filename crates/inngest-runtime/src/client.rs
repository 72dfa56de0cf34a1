//! The client: sends typed events to the event API.

use std::sync::Arc;

use base64::Engine;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{Config, Mode};
use crate::error::SendError;
use crate::event::Event;
use crate::protocol::event::SendEventsResponse;
use crate::protocol::{EventPayload, headers};

/// How long connecting to Inngest may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one request to Inngest (event send, sync, checkpoint) may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The key used in dev mode when none is set (as the official SDKs do).
pub const DEV_EVENT_KEY: &str = "NO_EVENT_KEY_SET";

/// An Inngest client for one app. Cheap to clone.
///
/// ```no_run
/// # use inngest_runtime::{Inngest, Event};
/// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
/// # struct UserCreated { #[garde(email)] email: String }
/// # impl Event for UserCreated { const NAME: &'static str = "user/user.created"; }
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let inngest = Inngest::new("shop"); // reads INNGEST_* from the environment
/// let ids = inngest.send(UserCreated { email: "ada@example.com".into() }).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Inngest {
    inner: Arc<Inner>,
}

struct Inner {
    app_id: String,
    config: Config,
    http: reqwest::Client,
    /// An Inngest in this process to talk to instead of HTTP.
    in_process: Option<Arc<dyn InProcess>>,
}

/// A future of an [`InProcess`] call.
pub type InProcessFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// An Inngest in the same process that a client talks to instead of HTTP: a test engine
/// (`inngest_devserver::testing::TestEngine`). The client's events and the SDK's checkpoints go
/// to it; everything else is the same.
pub trait InProcess: Send + Sync + 'static {
    /// Accepts events as `POST /e/{key}` does; their ids, or why they were refused.
    fn send_events(
        &self,
        events: Vec<EventPayload>,
    ) -> InProcessFuture<Result<Vec<String>, String>>;
    /// Saves checkpointed steps as `POST /v1/checkpoint/{run_id}/async` does (`body` is that
    /// call's body); whether they were taken.
    fn checkpoint(&self, run_id: String, body: serde_json::Value) -> InProcessFuture<bool>;
}

impl std::fmt::Debug for Inngest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inngest")
            .field("app_id", &self.inner.app_id)
            .field("mode", &self.inner.config.mode)
            .finish()
    }
}

impl Inngest {
    /// A client for `app_id`, configured from the environment.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self::with_config(app_id, Config::from_env())
    }

    /// A client with an explicit configuration.
    pub fn with_config(app_id: impl Into<String>, config: Config) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(headers::sdk_header_value())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_else(|e| {
                // Only a TLS backend or system configuration that cannot load makes this fail,
                // and reqwest's defaults would then fail the same way; said, not hidden.
                tracing::error!(error = %e, "could not build the HTTP client with its timeouts; using reqwest's defaults");
                reqwest::Client::default()
            });
        Self {
            inner: Arc::new(Inner {
                app_id: app_id.into(),
                config,
                http,
                in_process: None,
            }),
        }
    }

    /// A client of an Inngest in this process (see [`InProcess`]): no network at all.
    pub fn in_process(app_id: impl Into<String>, inngest: Arc<dyn InProcess>) -> Self {
        let client = Self::with_config(app_id, Config::dev("http://in-process.invalid"));
        let inner = Inner {
            app_id: client.inner.app_id.clone(),
            config: client.inner.config.clone(),
            http: client.inner.http.clone(),
            in_process: Some(inngest),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The Inngest in this process this client talks to, if it is one.
    pub(crate) fn in_process_inngest(&self) -> Option<&Arc<dyn InProcess>> {
        self.inner.in_process.as_ref()
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Sends one typed event; returns its id. Invalid payloads are refused before sending.
    ///
    /// ```no_run
    /// # use inngest_runtime::{Inngest, Event};
    /// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
    /// # struct UserCreated { #[garde(email)] email: String }
    /// # impl Event for UserCreated { const NAME: &'static str = "user/user.created"; }
    /// # async fn f(inngest: Inngest) -> Result<(), inngest_runtime::error::SendError> {
    /// let id = inngest.send(UserCreated { email: "ada@example.com".into() }).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`SendError`]: the payload does not validate or serialize (nothing is sent), there is no
    /// event key in cloud mode, the event API cannot be reached in time, or it refuses the
    /// events.
    pub async fn send<E: Event>(&self, event: E) -> Result<String, SendError> {
        let mut ids = self.send_many(std::slice::from_ref(&event)).await?;
        Ok(ids.pop().unwrap_or_default())
    }

    /// Sends typed events in one request; returns their ids in order. If any payload is
    /// invalid, nothing is sent.
    ///
    /// # Errors
    ///
    /// As [`Inngest::send`].
    pub async fn send_many<E: Event>(&self, events: &[E]) -> Result<Vec<String>, SendError> {
        let payloads = events
            .iter()
            .map(crate::event::encode)
            .collect::<Result<Vec<_>, _>>()?;
        self.send_payloads(payloads).await
    }

    /// Sends untyped events (for forwarding); prefer [`Inngest::send`].
    pub async fn send_payloads(
        &self,
        mut payloads: Vec<EventPayload>,
    ) -> Result<Vec<String>, SendError> {
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let key = match (&self.inner.config.event_key, self.inner.config.mode) {
            (Some(k), _) => k.clone(),
            (None, Mode::Dev) => DEV_EVENT_KEY.to_string(),
            (None, Mode::Cloud) => return Err(SendError::NoEventKey),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        for p in &mut payloads {
            p.ts.get_or_insert(now);
        }
        if let Some(inngest) = &self.inner.in_process {
            return inngest
                .send_events(payloads)
                .await
                .map_err(|message| SendError::Refused {
                    status: 400,
                    message,
                });
        }
        let url = format!("{}/e/{}", self.inner.config.event_origin(), key);
        let mut req = self
            .inner
            .http
            .post(url)
            .header(headers::SDK, headers::sdk_header_value())
            .header(headers::EVENT_ID_SEED, event_id_seed(now))
            .json(&payloads);
        if let Some(env) = &self.inner.config.env {
            req = req.header(headers::ENV, env);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let body =
            crate::capped_body::read_capped(resp, crate::capped_body::MAX_API_ANSWER).await?;
        let text = String::from_utf8_lossy(&body);
        let parsed: Option<SendEventsResponse> = serde_json::from_str(&text).ok();
        match parsed {
            Some(body) if (200..300).contains(&status) && body.error.is_none() => Ok(body.ids),
            Some(body) => Err(SendError::Refused {
                status,
                message: body.error.unwrap_or_else(|| text.into_owned()),
            }),
            None => Err(SendError::Refused {
                status,
                message: text.into_owned(),
            }),
        }
    }
}

fn event_id_seed(now_ms: i64) -> String {
    // `<millis>,<base64 of 10 random bytes>`: the server derives event ULIDs from it.
    let random = ulid::Ulid::new().random().to_be_bytes();
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&random[6..16]);
    format!(
        "{now_ms},{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}
