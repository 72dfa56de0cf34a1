//! `GET /v1/stream`: the changes the dashboard redraws on, as server-sent events, read here
//! as a plain HTTP client reads them; the stream ends when the server stops.

use std::time::{Duration, Instant};

use inngest_devserver::{DevServer, DevServerConfig};
use serde_json::{Value, json};

/// Reads the stream until `want` accepts the `(event, data)` pairs read so far.
async fn read_until(
    resp: &mut reqwest::Response,
    seen: &mut Vec<(String, Value)>,
    buffer: &mut String,
    want: impl Fn(&[(String, Value)]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !want(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("not seen within 10 s; saw {seen:?}"))
            .expect("the stream reads")
            .unwrap_or_else(|| panic!("the stream ended; saw {seen:?}"));
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str::<Value>(v.trim()).ok();
                }
            }
            if let (Some(name), Some(data)) = (name, data) {
                seen.push((name, data));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_tells_of_events_and_clock_moves_and_ends_with_the_server() {
    let server = DevServer::start(DevServerConfig {
        port: 0,
        ..Default::default()
    })
    .await
    .expect("the dev server starts");
    let mut resp = reqwest::get(format!("{}/v1/stream", server.url()))
        .await
        .expect("the stream answers");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let (mut seen, mut buffer) = (Vec::new(), String::new());

    let ids = server
        .send(vec![json!({ "name": "demo/hello", "data": {} })])
        .await
        .expect("accepted");
    read_until(&mut resp, &mut seen, &mut buffer, |s| {
        s.iter().any(|(n, _)| n == "event")
    })
    .await;
    assert_eq!(
        seen[0],
        (
            "event".to_string(),
            json!({ "kind": "event", "id": ids[0], "name": "demo/hello" })
        )
    );

    let before = server.clock().now_ms();
    server
        .advance(Duration::from_secs(3600))
        .await
        .expect("the clock moves");
    read_until(&mut resp, &mut seen, &mut buffer, |s| {
        s.iter().any(|(n, _)| n == "clock")
    })
    .await;
    let (_, clock) = seen
        .iter()
        .find(|(n, _)| n == "clock")
        .expect("a clock change");
    let now = clock["now_ms"].as_i64().expect("now_ms");
    assert!(now >= before + 3_600_000, "{clock}");

    // Stopping does not wait for the open stream (the server lets connections drain for 5 s).
    let stopping = Instant::now();
    server.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "the stop waited {:?} for the stream",
        stopping.elapsed()
    );
    let end = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(Some(_)) = resp.chunk().await {}
    })
    .await;
    assert!(end.is_ok(), "the stream ended with the server");
}
