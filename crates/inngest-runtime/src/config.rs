//! Configuration from the `INNGEST_*` environment variables, as the official SDKs read them.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `INNGEST_DEV` | `1`/`true`: dev mode; `0`/`false`: cloud mode; a URL: dev mode against that server |
//! | `INNGEST_BASE_URL` | origin of both the API and the event API |
//! | `INNGEST_API_BASE_URL` | origin of the API (sync, checkpoints); wins over `INNGEST_BASE_URL` |
//! | `INNGEST_EVENT_API_BASE_URL` | origin of the event API; wins over `INNGEST_BASE_URL` |
//! | `INNGEST_EVENT_KEY` | key for sending events (required in cloud mode) |
//! | `INNGEST_SIGNING_KEY` | verifies requests and signs responses (required in cloud mode) |
//! | `INNGEST_SIGNING_KEY_FALLBACK` | a second key accepted during rotation |
//! | `INNGEST_ENV` | the environment (branch) name, sent as `X-Inngest-Env` |
//! | `INNGEST_SERVE_ORIGIN`, `INNGEST_SERVE_PATH` | the public URL of the serve endpoint, when the request's own differs |
//! | `INNGEST_ALLOW_IN_BAND_SYNC` | `false` refuses in-band sync requests |

use std::collections::HashMap;

/// Dev mode talks to a local server without keys; cloud mode verifies signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// A local dev server; nothing is signed.
    Dev,
    /// Inngest cloud or self-hosted: requests must be signed.
    Cloud,
}

/// The default dev server origin.
pub const DEV_ORIGIN: &str = "http://localhost:8288";
/// The cloud API origin.
pub const CLOUD_API_ORIGIN: &str = "https://api.inngest.com";
/// The cloud event API origin.
pub const CLOUD_EVENT_ORIGIN: &str = "https://inn.gs";

/// The resolved client configuration.
///
/// ```
/// use inngest_runtime::config::{Config, Mode};
/// let cfg = Config::from_vars([("INNGEST_DEV", "http://127.0.0.1:9999")]);
/// assert_eq!(cfg.mode, Mode::Dev);
/// assert_eq!(cfg.api_origin(), "http://127.0.0.1:9999");
/// let cloud = Config::from_vars([("INNGEST_SIGNING_KEY", "signkey-prod-00")]);
/// assert_eq!(cloud.mode, Mode::Cloud);
/// assert_eq!(cloud.event_origin(), "https://inn.gs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Dev or cloud.
    pub mode: Mode,
    /// API origin override.
    pub api_base_url: Option<String>,
    /// Event API origin override.
    pub event_api_base_url: Option<String>,
    /// The event key.
    pub event_key: Option<String>,
    /// The signing key.
    pub signing_key: Option<String>,
    /// The fallback signing key.
    pub signing_key_fallback: Option<String>,
    /// The environment name.
    pub env: Option<String>,
    /// Public origin of the serve endpoint.
    pub serve_origin: Option<String>,
    /// Public path of the serve endpoint.
    pub serve_path: Option<String>,
    /// Whether in-band sync is allowed.
    pub allow_in_band_sync: bool,
}

fn non_empty(v: Option<&String>) -> Option<String> {
    v.map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars().filter(|(k, _)| k.starts_with("INNGEST_")))
    }

    /// Reads the given variables (for tests and embedding).
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let get = |k: &str| non_empty(vars.get(k));
        let dev = get("INNGEST_DEV");
        let (mode, dev_url) = match dev.as_deref() {
            Some("1") | Some("true") => (Mode::Dev, None),
            Some("0") | Some("false") => (Mode::Cloud, None),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                (Mode::Dev, Some(url.to_string()))
            }
            _ => (Mode::Cloud, None),
        };
        let base = get("INNGEST_BASE_URL").or(dev_url);
        Self {
            mode,
            api_base_url: get("INNGEST_API_BASE_URL").or_else(|| base.clone()),
            event_api_base_url: get("INNGEST_EVENT_API_BASE_URL").or(base),
            event_key: get("INNGEST_EVENT_KEY"),
            signing_key: get("INNGEST_SIGNING_KEY"),
            signing_key_fallback: get("INNGEST_SIGNING_KEY_FALLBACK"),
            env: get("INNGEST_ENV"),
            serve_origin: get("INNGEST_SERVE_ORIGIN"),
            serve_path: vars
                .get("INNGEST_SERVE_PATH")
                .cloned()
                .filter(|s| !s.is_empty()),
            allow_in_band_sync: get("INNGEST_ALLOW_IN_BAND_SYNC").as_deref() != Some("false"),
        }
    }

    /// Dev mode against a server at `origin`.
    pub fn dev(origin: impl Into<String>) -> Self {
        let origin = origin.into();
        Self::from_vars([("INNGEST_DEV", origin)])
    }

    /// The API origin (sync, checkpoints).
    pub fn api_origin(&self) -> &str {
        self.api_base_url.as_deref().unwrap_or(match self.mode {
            Mode::Dev => DEV_ORIGIN,
            Mode::Cloud => CLOUD_API_ORIGIN,
        })
    }

    /// The event API origin.
    pub fn event_origin(&self) -> &str {
        self.event_api_base_url
            .as_deref()
            .unwrap_or(match self.mode {
                Mode::Dev => DEV_ORIGIN,
                Mode::Cloud => CLOUD_EVENT_ORIGIN,
            })
    }

    /// In cloud mode, what is missing to reach Inngest, as one line; `None` in dev mode or
    /// when both keys are set. A serve endpoint logs it (`warn`) when it is built, so that an
    /// app started without `INNGEST_DEV` and without keys says so at once rather than on its
    /// first `send`.
    ///
    /// ```
    /// use inngest_runtime::config::Config;
    /// let bare = Config::from_vars(Vec::<(String, String)>::new());
    /// let line = bare.cloud_mode_gap().expect("keys are missing");
    /// assert!(line.contains("INNGEST_SIGNING_KEY") && line.contains("INNGEST_EVENT_KEY"));
    /// assert!(line.contains("INNGEST_DEV=1"));
    /// assert_eq!(Config::dev("http://127.0.0.1:8288").cloud_mode_gap(), None);
    /// ```
    pub fn cloud_mode_gap(&self) -> Option<String> {
        if self.mode == Mode::Dev {
            return None;
        }
        let missing: Vec<&str> = [
            ("INNGEST_SIGNING_KEY", self.signing_key.is_none()),
            ("INNGEST_EVENT_KEY", self.event_key.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        if missing.is_empty() {
            return None;
        }
        Some(format!(
            "cloud mode (INNGEST_DEV is not set) without {}: requests from Inngest will be refused and events cannot be sent; set INNGEST_DEV=1 to use a local dev server, or set the keys of your Inngest environment",
            missing.join(" and ")
        ))
    }

    /// The Bearer token for the API, if a signing key is set.
    pub fn signing_key_bearer(&self) -> Option<String> {
        self.signing_key
            .as_deref()
            .map(crate::signature::hashed_signing_key)
    }
}
