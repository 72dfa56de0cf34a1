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

    /// The longest URL and error kept, in bytes (a register body may carry anything).
    pub const MAX_TEXT: usize = 2048;

    /// Records an attempt at `url` now.
    pub fn record(&self, url: &str, error: Option<String>) {
        let attempt = SyncAttempt {
            url: clip(url),
            at: crate::clock::rfc3339(self.clock.now_ms()),
            error: error.as_deref().map(clip),
        };
        let url = attempt.url.as_str();
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

/// `text` cut to at most [`SyncLog::MAX_TEXT`] bytes, on a character boundary.
fn clip(text: &str) -> String {
    let mut end = text.len().min(SyncLog::MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
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
        let body = inngest_runtime::capped_body::read_capped(resp, MAX_ANSWER)
            .await
            .map_err(|_| unreadable())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_log_stays_bounded_whatever_it_is_sent() {
        let log = SyncLog::new(crate::Clock::default());
        let huge = "é".repeat(1_000_000);
        log.record(&huge, Some(huge.clone()));
        let kept = log.attempts();
        assert!(kept[0].url.len() <= SyncLog::MAX_TEXT && kept[0].url.starts_with('é'));
        assert!(
            kept[0]
                .error
                .as_ref()
                .is_some_and(|e| e.len() <= SyncLog::MAX_TEXT)
        );
        for n in 0..(SyncLog::MAX_URLS + 50) {
            log.record(&format!("http://127.0.0.1:{n}/api"), None);
        }
        let kept = log.attempts();
        assert_eq!(kept.len(), SyncLog::MAX_URLS);
        assert_eq!(
            kept.last().map(|a| a.url.as_str()),
            Some(format!("http://127.0.0.1:{}/api", SyncLog::MAX_URLS + 49).as_str()),
            "the newest stays, the oldest go"
        );
        // The same URL again replaces its entry.
        log.record("http://127.0.0.1:60/api", Some("down".into()));
        let again: Vec<_> = log
            .attempts()
            .into_iter()
            .filter(|a| a.url == "http://127.0.0.1:60/api")
            .collect();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].error.as_deref(), Some("down"));
    }
}
