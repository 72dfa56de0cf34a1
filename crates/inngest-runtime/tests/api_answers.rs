//! Answers from Inngest's API are read with a cap on their size: an event API that sends an
//! endless body (no real peer does; this stand-in misbehaves on purpose) gets a clear error
//! instead of the whole body held in memory.

use std::time::Duration;

use inngest_runtime::capped_body::{CappedBodyError, MAX_API_ANSWER};
use inngest_runtime::config::Config;
use inngest_runtime::error::SendError;
use inngest_runtime::{Event, Inngest};
use serde::{Deserialize, Serialize};

mod support;

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Pinged {}
impl Event for Pinged {
    const NAME: &'static str = "test/pinged";
}

#[tokio::test]
async fn an_endless_answer_from_the_event_api_is_cut_off_at_the_cap() {
    // Chunks of 64 KiB for ever, with no length announced.
    let endless = || async {
        let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
        let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        axum::body::Body::from_stream(stream)
    };
    let router = axum::Router::new().route("/e/{key}", axum::routing::post(endless));
    let (addr, task) = support::serve(router).await;
    let url = format!("http://{addr}");

    let client = Inngest::with_config("answers-test", Config::dev(url));
    let sent = tokio::time::timeout(Duration::from_secs(20), client.send(Pinged {}))
        .await
        .expect("the send ends");
    match sent {
        Err(SendError::Answer(CappedBodyError::TooLarge { max })) => {
            assert_eq!(max, MAX_API_ANSWER);
        }
        other => panic!("expected the answer refused as too large, got {other:?}"),
    }
    task.abort();
}
