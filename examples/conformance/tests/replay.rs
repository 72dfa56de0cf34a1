//! Replays every recorded executor request of the corpus (`tests/conformance/recordings/`,
//! the official JS SDK's answers; all scenarios but the checkpoint ones and connect) through
//! our serve handler, in process, and compares the answers in the protocol view.
//!
//! The Inngest API the SDK calls while answering (sync, `step.sendEvent`) is the kit's
//! stand-in: the real server cannot run on this machine.

use bytes::Bytes;
use conformance_app::kit::deliberate::deliberate;
use conformance_app::kit::official::{
    CLOUD_SIGNED, RECORDED_AT, RECORDED_SIGNING_KEY, recorded_clock,
};
use conformance_app::kit::view::{diff, protocol_view};
use conformance_app::kit::{Corpus, Exchange, StandInApi};
use inngest_runtime::config::Config;
use inngest_runtime::serve::ServeHandler;
use inngest_runtime::{Inngest, signature};
use serde_json::{Value, json};

fn to_http(ex: &Exchange) -> http::Request<Bytes> {
    let mut builder = http::Request::builder()
        .method(ex.request.method.as_str())
        .uri(format!("http://127.0.0.1:3939{}", ex.request.url));
    for (k, v) in &ex.request.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Bytes::from(ex.request.body.clone()))
        .expect("a recorded request is a valid request")
}

/// Replays one scenario; returns how many exchanges it has and what differs.
async fn replay(
    corpus: &Corpus,
    handler: &ServeHandler,
    scenario: &str,
    api: &str,
) -> (usize, Vec<String>) {
    let exchanges = corpus.exchanges(scenario).expect("the scenario reads");
    let mut failures = Vec::new();
    for ex in &exchanges {
        let resp = handler.handle(to_http(ex)).await;
        let status = resp.status().as_u16();
        let headers = conformance_app::kit::corpus::headers_json(resp.headers());
        let text = String::from_utf8(resp.body().to_vec()).expect("UTF-8 answers");
        if let Some(d) = deliberate(scenario, &ex.n) {
            failures.extend(d.check(status, &text, 0));
            continue;
        }
        let rec = &ex.response;
        let rec_text = rec
            .body_text
            .replace(conformance_app::kit::replay::RECORDED_API_ORIGIN, api);
        let want = protocol_view(rec.status, &rec.headers, &rec_text, &rec.headers);
        let got = protocol_view(status, &headers, &text, &rec.headers);
        let diffs = diff(&want, &got);
        if !diffs.is_empty() {
            failures.push(format!("{scenario}/{}:\n  {}", ex.n, diffs.join("\n  ")));
        }
        // A signed exchange is answered with a signature over the exact body.
        if rec.headers.contains_key("x-inngest-signature") {
            let sig = headers.get("x-inngest-signature").and_then(Value::as_str);
            let expected = signature::sign(RECORDED_SIGNING_KEY, text.as_bytes(), RECORDED_AT);
            if sig != Some(expected.as_str()) {
                failures.push(format!(
                    "{scenario}/{}: response signature missing or wrong: {sig:?}",
                    ex.n
                ));
            }
        }
        // Identity is ours, not another SDK's.
        let sdk = headers.get("x-inngest-sdk").and_then(Value::as_str);
        if status != 401 && !sdk.is_some_and(|s| s.starts_with("inngest-runtime:v")) {
            failures.push(format!("{scenario}/{}: X-Inngest-SDK is {sdk:?}", ex.n));
        }
    }
    (exchanges.len(), failures)
}

#[tokio::test]
async fn every_recorded_request_gets_the_official_answer() {
    let corpus = Corpus::workspace();
    let api = StandInApi::start().await.expect("the stand-in API listens");
    let origin = api.origin().to_string();
    let dev = ServeHandler::new(
        conformance_app::app(Inngest::with_config("probe-app", Config::dev(&origin))).unwrap(),
    )
    .framework("axum");
    let cloud_config = Config::from_vars([
        ("INNGEST_SIGNING_KEY", RECORDED_SIGNING_KEY),
        ("INNGEST_BASE_URL", origin.as_str()),
    ]);
    let cloud = ServeHandler::new(
        conformance_app::app(Inngest::with_config("probe-app", cloud_config)).unwrap(),
    )
    .framework("axum")
    .clock(recorded_clock);

    let scenarios: Vec<String> = corpus
        .replayable()
        .expect("the corpus reads")
        .into_iter()
        .filter(|n| !n.contains("-checkpoint"))
        .collect();
    let mut total = 0;
    let mut failures = Vec::new();
    for s in &scenarios {
        let handler = if s == CLOUD_SIGNED { &cloud } else { &dev };
        let (n, f) = replay(&corpus, handler, s, &origin).await;
        total += n;
        failures.extend(f);
    }
    assert_eq!(
        scenarios.len(),
        17,
        "expected the whole corpus, found {scenarios:?}"
    );
    assert_eq!(total, 53, "every recorded exchange");
    assert!(
        failures.is_empty(),
        "{} of {total} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The recorded cloud sync (`_cloud-signed/09`) is refused on purpose (unsigned, no serve
    // origin); with the origin configured, as in production, the cloud app syncs.
    let configured = ServeHandler::new(
        conformance_app::app(Inngest::with_config(
            "probe-app",
            Config::from_vars([
                ("INNGEST_SIGNING_KEY", RECORDED_SIGNING_KEY),
                ("INNGEST_BASE_URL", origin.as_str()),
                ("INNGEST_SERVE_ORIGIN", "http://127.0.0.1:3939"),
            ]),
        ))
        .unwrap(),
    )
    .framework("axum");
    let put = http::Request::put("http://127.0.0.1:3939/api/inngest")
        .body(Bytes::new())
        .expect("a request");
    assert_eq!(configured.handle(put).await.status().as_u16(), 200);

    // What the SDK itself sent to the API while answering.
    let seen = api.take();
    let registers: Vec<_> = seen
        .iter()
        .filter(|s| s.url.starts_with("/fn/register"))
        .collect();
    assert_eq!(registers.len(), 3, "two dev syncs and one cloud sync");
    assert!(
        registers
            .iter()
            .any(|s| s.url == "/fn/register?deployId=dep_123")
    );
    for s in &registers {
        assert_eq!(s.headers["x-inngest-sync-kind"], "out_of_band");
        assert_eq!(s.body["appName"], "probe-app");
        assert_eq!(s.body["functions"].as_array().unwrap().len(), 13);
        assert_eq!(s.body["url"], "http://127.0.0.1:3939/api/inngest");
        assert_eq!(
            s.body["sdk"],
            format!("rust:v{}", inngest_runtime::protocol::headers::SDK_VERSION)
        );
    }
    let bearer = registers
        .iter()
        .find_map(|s| s.headers.get("authorization"))
        .expect("the cloud sync is authorized");
    assert_eq!(
        bearer,
        "Bearer signkey-test-4884fdaafea47c29fea7159d0daddd9c085d6200e1359e85bb81736af6b7c837"
    );
    let sends: Vec<_> = seen.iter().filter(|s| s.url.starts_with("/e/")).collect();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].url, "/e/NO_EVENT_KEY_SET");
    assert_eq!(sends[0].body[0]["name"], "app/child.requested");
    assert_eq!(sends[0].body[0]["data"], json!({ "n": 1 }));
}
