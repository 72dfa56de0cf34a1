//! Sends recorded requests to a serve endpoint over HTTP and compares, or records, the answers.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::corpus::{Corpus, Exchange};
use super::error::KitError;
use super::resign::Resign;
use super::stand_in::{SideRequest, StandInApi};
use super::view::{diff, protocol_view};

/// Where the recordings' API listened: recorded answers that name it are compared with the
/// stand-in's address in its place.
pub const RECORDED_API_ORIGIN: &str = "http://127.0.0.1:9100";
/// The `Host` the recordings were made with (the app's address then), sent unless a recorded
/// request names its own: sync bodies carry the app's URL, which SDKs derive from it.
pub const RECORDED_APP_HOST: &str = "127.0.0.1:3939";
/// How long one answer may take (the official SDK waits 10 s on a missing targeted step).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One answer of the app.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers, lowercased.
    pub headers: Map<String, Value>,
    /// The body as text.
    pub text: String,
    /// What the app sent to the API while answering.
    pub side: Vec<SideRequest>,
}

/// The outcome of one exchange.
#[derive(Debug, Clone)]
pub struct Checked {
    /// `scenario/NN`.
    pub name: String,
    /// The differences from the recording in the protocol view (empty: the same).
    pub diffs: Vec<String>,
    /// What the app answered.
    pub answer: Answer,
}

impl Checked {
    /// `scenario/NN:` and its differences, one per line; `None` when it agrees.
    pub fn failure(&self) -> Option<String> {
        (!self.diffs.is_empty()).then(|| format!("{}:\n  {}", self.name, self.diffs.join("\n  ")))
    }
}

/// Sends recorded requests to one app.
#[derive(Debug, Clone)]
pub struct Replayer {
    client: reqwest::Client,
    origin: String,
    resign: Option<Resign>,
}

fn request_path(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl Replayer {
    /// Sends to the app at `origin` (`http://127.0.0.1:<port>`).
    pub fn new(origin: impl Into<String>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(ANSWER_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            client,
            origin: origin.into(),
            resign: None,
        }
    }

    /// Re-signs signed recordings before sending them (see [`Resign`]).
    pub fn resign(mut self, resign: Resign) -> Self {
        self.resign = Some(resign);
        self
    }

    /// Sends one recorded request; `api` collects what the app sends out meanwhile.
    pub async fn send(&self, ex: &Exchange, api: &StandInApi) -> Result<Answer, KitError> {
        let req = &ex.request;
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut builder = self
            .client
            .request(method, format!("{}{}", self.origin, req.url));
        if req.header("host").is_none() {
            builder = builder.header("host", RECORDED_APP_HOST);
        }
        for (k, v) in &req.headers {
            let v = match (&self.resign, k.eq_ignore_ascii_case("x-inngest-signature")) {
                (Some(r), true) => r.header(v, &req.body),
                _ => v.clone(),
            };
            builder = builder.header(k.as_str(), v);
        }
        if !req.body.is_empty() {
            builder = builder.body(req.body.clone());
        }
        api.take();
        let http_error = |source| KitError::Http {
            scenario: ex.scenario.clone(),
            n: ex.n.clone(),
            source,
        };
        let resp = builder.send().await.map_err(http_error)?;
        let status = resp.status().as_u16();
        let headers = super::corpus::headers_json(resp.headers());
        let text = resp.text().await.map_err(http_error)?;
        Ok(Answer {
            status,
            headers,
            text,
            side: api.take(),
        })
    }

    /// Sends one recorded request and compares the answer with the recorded one, and the
    /// requests the app sent out with those the official SDK sent (method and path).
    pub async fn check(
        &self,
        corpus: &Corpus,
        ex: &Exchange,
        api: &StandInApi,
    ) -> Result<Checked, KitError> {
        let answer = self.send(ex, api).await?;
        let rec = &ex.response;
        let rec_text = rec.body_text.replace(RECORDED_API_ORIGIN, api.origin());
        let want = protocol_view(rec.status, &rec.headers, &rec_text, &rec.headers);
        let got = protocol_view(answer.status, &answer.headers, &answer.text, &rec.headers);
        let mut diffs = diff(&want, &got);
        let recorded_side: Vec<String> = corpus
            .side_requests(&ex.scenario, &ex.n)?
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s["method"].as_str().unwrap_or_default(),
                    request_path(s["url"].as_str().unwrap_or_default())
                )
            })
            .collect();
        let side: Vec<String> = answer
            .side
            .iter()
            .map(|s| format!("{} {}", s.method, request_path(&s.url)))
            .collect();
        if side != recorded_side {
            diffs.push(format!(
                "requests to the API: expected {recorded_side:?}, got {side:?}"
            ));
        }
        Ok(Checked {
            name: format!("{}/{}", ex.scenario, ex.n),
            diffs,
            answer,
        })
    }
}

/// Writes `value` with the stand-in API's address (`api`) written as the recordings' one.
fn write_json(path: &Path, value: &Value, api: &str) -> Result<(), KitError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| KitError::Format {
        path: path.to_owned(),
        what: e.to_string(),
    })?;
    let recorded_host = RECORDED_API_ORIGIN.trim_start_matches("http://");
    let mut text = text
        .replace(api, RECORDED_API_ORIGIN)
        .replace(api.trim_start_matches("http://"), recorded_host);
    text.push('\n');
    let temp = path.with_extension("json.tmp");
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|source| KitError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Headers that change from one answer to the next.
const VOLATILE: [&str; 5] = [
    "connection",
    "date",
    "keep-alive",
    "server-timing",
    "transfer-encoding",
];

/// Writes `answer` as the recording of `ex` in the folder `dir`: `NN-response.json`, and
/// `NN-side-requests.json` when the app sent anything to the API (removed when it did not).
/// `api` is the stand-in API's origin, written as the recordings' one.
pub fn write_answer(dir: &Path, ex: &Exchange, answer: &Answer, api: &str) -> Result<(), KitError> {
    std::fs::create_dir_all(dir).map_err(|source| KitError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut response = json!({
        "status": answer.status,
        "headers": answer.headers,
        "volatile_headers": VOLATILE
            .iter()
            .filter(|h| answer.headers.contains_key(**h))
            .collect::<Vec<_>>(),
        "body_text": answer.text,
    });
    if let Ok(body) = serde_json::from_str::<Value>(&answer.text) {
        response["body"] = body;
    }
    write_json(&dir.join(format!("{}-response.json", ex.n)), &response, api)?;
    let side_path = dir.join(format!("{}-side-requests.json", ex.n));
    if answer.side.is_empty() {
        match std::fs::remove_file(&side_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(KitError::Io {
                path: side_path,
                source,
            }),
        }
    } else {
        let side: Vec<Value> = answer.side.iter().map(SideRequest::to_json).collect();
        write_json(&side_path, &Value::Array(side), api)
    }
}
