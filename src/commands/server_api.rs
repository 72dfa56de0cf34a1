//! The dev server's HTTP API as the terminal commands (`send`, `invoke`, `runs`, `run`) use it:
//! which server (`--server`, else `INNGEST_DEV` when it is a URL, else `INNGEST_BASE_URL`, else
//! `http://127.0.0.1:8288`), and JSON calls with timeouts.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

/// `--server` and `--json`, shared by the terminal commands.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The dev server's URL (default: INNGEST_DEV when it is a URL, else INNGEST_BASE_URL, else
    /// http://127.0.0.1:8288).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Print JSON instead of text (for scripts).
    #[arg(long)]
    pub json: bool,
}

impl Target {
    /// The server's base URL, without a trailing slash.
    pub fn base(&self) -> String {
        let from_env = |k: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| v.starts_with("http://") || v.starts_with("https://"))
        };
        self.server
            .clone()
            .or_else(|| from_env("INNGEST_DEV"))
            .or_else(|| from_env("INNGEST_BASE_URL"))
            .unwrap_or_else(|| "http://127.0.0.1:8288".to_string())
            .trim_end_matches('/')
            .to_string()
    }
}

/// A client of one dev server's API.
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(target: &Target) -> Self {
        Self {
            base: target.base(),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// The URL of `segments` (each percent-encoded) with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> anyhow::Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&self.base)
            .with_context(|| format!("{:?} is not a URL", self.base))?;
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("{:?} cannot have a path", self.base))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// `GET url`: the answer's `data`.
    pub async fn get(&self, url: reqwest::Url) -> anyhow::Result<Value> {
        let url = url.to_string();
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("the dev server at {} did not answer", self.base))?;
        Self::data(resp, &url).await
    }

    /// `POST url` with a JSON body: the answer's `data`.
    pub async fn post(&self, url: reqwest::Url, body: &Value) -> anyhow::Result<Value> {
        let url = url.to_string();
        let resp = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .with_context(|| format!("the dev server at {} did not answer", self.base))?;
        Self::data(resp, &url).await
    }

    async fn data(resp: reqwest::Response, url: &str) -> anyhow::Result<Value> {
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        if !status.is_success() {
            let message = body
                .get("error")
                .or_else(|| body.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or(text);
            anyhow::bail!("{url} answered {status}: {message}");
        }
        Ok(body.get("data").cloned().unwrap_or(body))
    }
}

/// Parses `--data`: a JSON object.
pub fn data_object(text: &str) -> anyhow::Result<serde_json::Map<String, Value>> {
    match serde_json::from_str::<Value>(text).context("--data is not JSON")? {
        Value::Object(o) => Ok(o),
        other => anyhow::bail!("--data must be a JSON object, not {other}"),
    }
}
