//! The recorded corpus: `tests/conformance/recordings/<scenario>/NN-request.json`,
//! `NN-response.json` and `NN-side-requests.json`, and `tests/conformance/scenarios.json`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::KitError;

/// Scenarios that are not request/answer pairs over HTTP (connect's are WebSocket transcripts).
pub const NOT_REPLAYABLE: &[&str] = &["_connect"];

/// The corpus folder (the one holding `recordings/` and `scenarios.json`).
#[derive(Debug, Clone)]
pub struct Corpus {
    root: PathBuf,
}

/// One recorded request and the official SDK's answer to it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The scenario (folder name).
    pub scenario: String,
    /// The two-digit position in the scenario (`01`, `02`…).
    pub n: String,
    /// What the executor sent.
    pub request: RecordedRequest,
    /// What the official SDK answered.
    pub response: RecordedResponse,
}

/// A recorded request.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// A label the recorder gave it, if any.
    pub label: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub url: String,
    /// Headers, as recorded.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub body: Vec<u8>,
}

/// A recorded answer.
#[derive(Debug, Clone)]
pub struct RecordedResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers, lowercased.
    pub headers: Map<String, Value>,
    /// The body as text.
    pub body_text: String,
}

fn read_json(path: &Path) -> Result<Value, KitError> {
    let text = std::fs::read_to_string(path).map_err(|source| KitError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| KitError::Format {
        path: path.to_owned(),
        what: e.to_string(),
    })
}

fn format_error(path: &Path, what: &str) -> KitError {
    KitError::Format {
        path: path.to_owned(),
        what: what.to_string(),
    }
}

/// The headers of a request or an answer, as the corpus writes them.
pub fn headers_json(headers: &http::HeaderMap) -> Map<String, Value> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect()
}

/// Headers as a lowercased map.
pub fn lowercase_headers(headers: &Value) -> Map<String, Value> {
    headers
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.to_lowercase(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

impl RecordedRequest {
    fn parse(path: &Path, v: &Value) -> Result<Self, KitError> {
        let body = match (&v["body_text"], &v["body"]) {
            (Value::String(t), _) => t.clone().into_bytes(),
            (_, Value::Null) => Vec::new(),
            (_, b) => serde_json::to_vec(b).map_err(|e| format_error(path, &e.to_string()))?,
        };
        let mut headers = Vec::new();
        for (k, h) in v["headers"].as_object().into_iter().flatten() {
            let h = h
                .as_str()
                .ok_or_else(|| format_error(path, "a header value is not a string"))?;
            headers.push((k.clone(), h.to_string()));
        }
        Ok(Self {
            label: v["label"].as_str().map(str::to_string),
            method: v["method"].as_str().unwrap_or("POST").to_string(),
            url: v["url"]
                .as_str()
                .ok_or_else(|| format_error(path, "no url"))?
                .to_string(),
            headers,
            body,
        })
    }

    /// The value of a header, matched without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl RecordedResponse {
    fn parse(path: &Path, v: &Value) -> Result<Self, KitError> {
        let status = v["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format_error(path, "no status"))?;
        Ok(Self {
            status,
            headers: lowercase_headers(&v["headers"]),
            body_text: v["body_text"].as_str().unwrap_or_default().to_string(),
        })
    }
}

impl Corpus {
    /// The corpus at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The corpus this workspace carries: `tests/conformance/`.
    pub fn workspace() -> Self {
        Self::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance"))
    }

    /// The corpus folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one scenario's recordings.
    pub fn scenario_dir(&self, scenario: &str) -> PathBuf {
        self.root.join("recordings").join(scenario)
    }

    /// Every scenario folder, sorted.
    pub fn scenarios(&self) -> Result<Vec<String>, KitError> {
        let dir = self.root.join("recordings");
        let entries = std::fs::read_dir(&dir).map_err(|source| KitError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        Ok(out)
    }

    /// The scenarios whose exchanges can be replayed over HTTP.
    pub fn replayable(&self) -> Result<Vec<String>, KitError> {
        Ok(self
            .scenarios()?
            .into_iter()
            .filter(|s| !NOT_REPLAYABLE.contains(&s.as_str()))
            .collect())
    }

    /// The exchanges of one scenario, in order.
    pub fn exchanges(&self, scenario: &str) -> Result<Vec<Exchange>, KitError> {
        let dir = self.scenario_dir(scenario);
        let mut out = Vec::new();
        for i in 1..100 {
            let n = format!("{i:02}");
            let req_path = dir.join(format!("{n}-request.json"));
            if !req_path.is_file() {
                break;
            }
            let resp_path = dir.join(format!("{n}-response.json"));
            out.push(Exchange {
                scenario: scenario.to_string(),
                request: RecordedRequest::parse(&req_path, &read_json(&req_path)?)?,
                response: RecordedResponse::parse(&resp_path, &read_json(&resp_path)?)?,
                n,
            });
        }
        if out.is_empty() {
            return Err(format_error(&dir, "no NN-request.json in this scenario"));
        }
        Ok(out)
    }

    /// The side requests the SDK sent while answering exchange `n` (empty when none were).
    pub fn side_requests(&self, scenario: &str, n: &str) -> Result<Vec<Value>, KitError> {
        let path = self
            .scenario_dir(scenario)
            .join(format!("{n}-side-requests.json"));
        if !path.is_file() {
            return Ok(Vec::new());
        }
        match read_json(&path)? {
            Value::Array(items) => Ok(items),
            _ => Err(format_error(&path, "not a list")),
        }
    }
}
