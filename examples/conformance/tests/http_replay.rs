//! The corpus replayed over HTTP: every recorded request is sent to our conformance app served
//! by axum on a bound loopback listener, and every answer must agree with the official SDK's
//! in the protocol view, including the requests the app sent to the Inngest API meanwhile.

use conformance_app::kit::deliberate::deliberate;
use conformance_app::kit::official::{CLOUD_SIGNED, RECORDED_SIGNING_KEY, recorded_clock};
use conformance_app::kit::{Corpus, Replayer, StandInApi};
use inngest_runtime::config::Config;
use inngest_runtime::serve::{self, ServeHandler};
use inngest_runtime::{Inngest, protocol::headers};
use tokio::net::TcpListener;

/// Serves `handler` on a fresh loopback listener; returns its origin and the server task.
async fn serve_app(handler: ServeHandler) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("an address"));
    let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint_with(handler));
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serves");
    });
    (origin, task)
}

#[tokio::test]
async fn every_recorded_request_over_http() {
    let corpus = Corpus::workspace();
    let api = StandInApi::start().await.expect("the stand-in API listens");
    let dev_app = conformance_app::app(Inngest::with_config(
        conformance_app::APP_ID,
        Config::dev(api.origin()),
    ))
    .expect("the app builds");
    let cloud_app = conformance_app::app(Inngest::with_config(
        conformance_app::APP_ID,
        Config::from_vars([
            ("INNGEST_SIGNING_KEY", RECORDED_SIGNING_KEY),
            ("INNGEST_BASE_URL", api.origin()),
        ]),
    ))
    .expect("the app builds");
    let (dev_origin, dev_task) = serve_app(ServeHandler::new(dev_app)).await;
    let (cloud_origin, cloud_task) =
        serve_app(ServeHandler::new(cloud_app).clock(recorded_clock)).await;

    let mut passed = 0;
    let mut failures = Vec::new();
    for scenario in corpus.replayable().expect("the corpus reads") {
        // Checkpointed runs: the Rust runtime's checkpoint exchanges are checked end to end
        // by the dev server's tests (its steps run in another grouping than the JS SDK's).
        if scenario.contains("-checkpoint") {
            continue;
        }
        let replayer = Replayer::new(if scenario == CLOUD_SIGNED {
            &cloud_origin
        } else {
            &dev_origin
        });
        for ex in corpus.exchanges(&scenario).expect("the scenario reads") {
            if let Some(d) = deliberate(&scenario, &ex.n) {
                let answer = replayer.send(&ex, &api).await.expect("the app answers");
                match d.check(answer.status, &answer.text, answer.side.len()) {
                    None => passed += 1,
                    Some(f) => failures.push(f),
                }
                continue;
            }
            let checked = replayer
                .check(&corpus, &ex, &api)
                .await
                .expect("the app answers");
            let sdk = checked.answer.headers.get("x-inngest-sdk");
            if checked.answer.status != 401 && sdk != Some(&headers::sdk_header_value().into()) {
                failures.push(format!("{}: X-Inngest-SDK {sdk:?}", checked.name));
            }
            match checked.failure() {
                None => passed += 1,
                Some(f) => failures.push(f),
            }
        }
    }
    dev_task.abort();
    cloud_task.abort();
    println!("{passed} passed, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        passed, 53,
        "every recorded exchange but the checkpoint ones"
    );
}
