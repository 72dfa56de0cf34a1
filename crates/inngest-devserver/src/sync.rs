//! Syncing apps by URL, as `inngest dev -u <url>` does: a `PUT` to the app's serve endpoint
//! makes the app register its functions with `POST /fn/register`.

use std::time::Duration;

use serde_json::{Value, json};

/// Why an app could not be synced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The app did not answer.
    #[error("could not reach {url}")]
    Unreachable {
        /// The app URL.
        url: String,
        /// The HTTP error.
        source: reqwest::Error,
    },
    /// The app answered with an error.
    #[error("{url} answered {status}")]
    Refused {
        /// The app URL.
        url: String,
        /// Its status.
        status: u16,
        /// The start of its body (at most 512 bytes).
        body: String,
    },
    /// The app's answer was too large or could not be read.
    #[error("{url} sent an answer that could not be read (over {MAX_ANSWER} bytes, or cut off)")]
    Unreadable {
        /// The app URL.
        url: String,
    },
}

/// The largest sync answer read.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// The last sync attempt of an app URL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncAttempt {
    /// The app's serve URL.
    pub url: String,
    /// When, RFC 3339 (the server's clock).
    pub at: String,
    /// Why it failed; `None` when it synced.
    pub error: Option<String>,
}

/// The last attempt to sync each app URL (PUTs from this server, syncs the apps sent), so the
/// dashboard can show an app's last sync error; bounded to [`SyncLog::MAX_URLS`].
#[derive(Debug, Clone)]
pub(crate) struct SyncLog {
    clock: crate::Clock,
    entries: std::sync::Arc<std::sync::Mutex<Vec<SyncAttempt>>>,
}

impl SyncLog {
    /// The most URLs remembered; the oldest attempt goes first.
    pub const MAX_URLS: usize = 200;

    pub fn new(clock: crate::Clock) -> Self {
        Self {
            clock,
            entries: Default::default(),
        }
    }

    /// Records an attempt at `url` now.
    pub fn record(&self, url: &str, error: Option<String>) {
        let attempt = SyncAttempt {
            url: url.to_string(),
            at: crate::clock::rfc3339(self.clock.now_ms()),
            error,
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|a| a.url != url);
        if entries.len() >= Self::MAX_URLS {
            entries.remove(0);
        }
        entries.push(attempt);
    }

    /// The attempts, oldest first.
    pub fn attempts(&self) -> Vec<SyncAttempt> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// PUTs app URLs, as `inngest dev -u` does; works against any dev server, since the app, not
/// the caller, picks where it registers (its `INNGEST_DEV`).
#[derive(Debug, Clone)]
pub struct AppSyncer {
    http: reqwest::Client,
    log: Option<SyncLog>,
}

impl Default for AppSyncer {
    fn default() -> Self {
        Self::new()
    }
}

impl AppSyncer {
    /// A syncer whose calls time out after 30 s and follow no redirect.
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            log: None,
        }
    }

    /// This syncer, recording every attempt in `log`.
    pub(crate) fn with_log(mut self, log: SyncLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Asks the app at `url` to sync; returns its answer.
    pub async fn sync(&self, url: &str) -> Result<Value, SyncError> {
        let result = self.put(url).await;
        if let Some(log) = &self.log {
            log.record(url, result.as_ref().err().map(|e| crate::error_chain(e)));
        }
        result
    }

    async fn put(&self, url: &str) -> Result<Value, SyncError> {
        let resp = self
            .http
            .put(url)
            .header(inngest_runtime::protocol::headers::SERVER_KIND, "dev")
            .json(&json!({ "url": url }))
            .send()
            .await
            .map_err(|source| SyncError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        let status = resp.status();
        let unreadable = || SyncError::Unreadable {
            url: url.to_string(),
        };
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|_| unreadable())? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(unreadable());
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            return Err(SyncError::Refused {
                url: url.to_string(),
                status: status.as_u16(),
                body: body.chars().take(512).collect(),
            });
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }

    /// Keeps `urls` synced: tries each until it answers, then again every `interval` (so an app
    /// restarted with new functions is picked up), as the official dev server polls.
    pub(crate) async fn keep_synced(self, urls: Vec<String>, interval: Duration) {
        let mut synced = vec![false; urls.len()];
        loop {
            for (url, done) in urls.iter().zip(synced.iter_mut()) {
                match self.sync(url).await {
                    Ok(_) => {
                        if !*done {
                            tracing::info!(%url, "app synced");
                        }
                        *done = true;
                    }
                    Err(e) => {
                        if *done {
                            tracing::warn!(error = %crate::error_chain(&e), "app sync failed");
                        } else {
                            tracing::debug!(error = %crate::error_chain(&e), "app not up yet");
                        }
                        *done = false;
                    }
                }
            }
            let wait = if synced.iter().all(|d| *d) {
                interval
            } else {
                interval.min(Duration::from_millis(500))
            };
            tokio::time::sleep(wait).await;
        }
    }
}
