//! Event-to-completion: how long the dev server takes from receiving an event to recording the
//! run of a 3-step workflow as completed, and how many such runs it completes per second, with
//! the Rust app on loopback, served over HTTP (serve mode) or as a connect worker on the dev
//! server's gateway (connect mode). The floors are the same number of bare round trips: one
//! event POST and the SDK calls, as HTTP POSTs to an axum route that answers at once, or as
//! WebSocket frames echoed at once.
//!
//! `cargo bench -p inngest-devserver --bench event_to_completion [-- --runs N --write]`;
//! `--write` puts the table into docs/performance.md.

mod support;

use support::{percentile, write_section};

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};

use inngest_devserver::{DevServer, DevServerConfig, RunStatus};
use inngest_runtime::config::Config;
use inngest_runtime::{App, Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Go {
    #[garde(skip)]
    n: u64,
}
impl Event for Go {
    const NAME: &'static str = "bench/go";
}

struct ThreeSteps;
impl Workflow for ThreeSteps {
    type Event = Go;
    type Output = u64;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("three-steps")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u64, WorkflowError> {
        let n = ctx.event.data.n;
        let a = ctx.step.run("one", async move { Ok(n + 1) }).await?;
        let b = ctx.step.run("two", async move { Ok(a + 1) }).await?;
        ctx.step.run("three", async move { Ok(b + 1) }).await
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

struct Result_ {
    label: String,
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

/// How the app is reached.
#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Serve,
    Connect,
}

/// Latency of `runs` sequential runs, then throughput of `runs` runs sent 16 at a time.
async fn measure(transport: Transport, checkpointing: bool, runs: usize) -> (Result_, usize) {
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing,
        ..DevServerConfig::default()
    })
    .await
    .expect("starts");
    let app = App::builder(Inngest::with_config("bench", Config::dev(server.url())))
        .register(ThreeSteps)
        .build()
        .expect("registers");
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    match transport {
        Transport::Serve => {
            let app_url = serve(
                axum::Router::new()
                    .route("/api/inngest", inngest_runtime::serve::axum::endpoint(app)),
            )
            .await;
            server
                .sync_app(&format!("{app_url}/api/inngest"))
                .await
                .expect("synced");
        }
        Transport::Connect => {
            let worker = inngest_runtime::connect::Worker::new(app).instance_id("bench");
            tokio::spawn(worker.run_until(async {
                let _ = worker_stopped.await;
            }));
            let deadline = Instant::now() + Duration::from_secs(10);
            while server.connect_workers().values().flatten().count() == 0 {
                assert!(Instant::now() < deadline, "the worker never connected");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let http = reqwest::Client::new();
    let events = format!("{}/e/key", server.url());
    let mut finished = server.engine().subscribe_finished();

    let send = move |n: u64| {
        let http = http.clone();
        let events = events.clone();
        async move {
            http.post(&events)
                .json(&json!({ "name": Go::NAME, "data": { "n": n } }))
                .send()
                .await
                .expect("sent")
                .error_for_status()
                .expect("accepted");
        }
    };
    // Warm up, and count the SDK calls one run takes.
    let calls_before = Instant::now();
    send(0).await;
    let first = finished.recv().await.expect("a run");
    assert_eq!(first.status, RunStatus::Completed);
    assert_eq!(first.output, Some(json!(3)));
    let _ = calls_before;
    let calls_per_run = first.steps.len() + usize::from(!checkpointing);

    let mut latencies = Vec::with_capacity(runs);
    for n in 0..runs as u64 {
        let t = Instant::now();
        send(n).await;
        let run = finished.recv().await.expect("a run");
        latencies.push(t.elapsed());
        assert_eq!(run.output, Some(json!(n + 3)));
    }
    latencies.sort();

    let t = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for chunk in 0..16u64 {
        let send = send.clone();
        let per = (runs as u64).div_ceil(16);
        senders.spawn(async move {
            for i in 0..per {
                send(chunk * per + i).await;
            }
        });
    }
    let total = (runs as u64).div_ceil(16) * 16;
    let mut done = 0;
    while done < total {
        let run = finished.recv().await.expect("a run");
        assert_eq!(run.status, RunStatus::Completed);
        done += 1;
    }
    let per_sec = total as f64 / t.elapsed().as_secs_f64();
    while senders.join_next().await.is_some() {}
    let _ = stop_worker.send(());
    server.stop().await;
    let mode = if checkpointing {
        "checkpoint mode (1 call, 3 checkpoints)"
    } else {
        "classic mode (4 calls)"
    };
    let over = match transport {
        Transport::Serve => "serve (HTTP)",
        Transport::Connect => "connect (WebSocket)",
    };
    (
        Result_ {
            label: format!("{over}, {mode}"),
            p50: percentile(&latencies, 0.5),
            p99: percentile(&latencies, 0.99),
            per_sec,
        },
        calls_per_run,
    )
}

/// `round_trips` bare POSTs per "run", sequentially and 16 runs at a time.
async fn floor(round_trips: usize, runs: usize) -> Result_ {
    let url = serve(axum::Router::new().route(
        "/",
        axum::routing::post(|_b: axum::body::Bytes| async { axum::Json(json!({ "ok": true })) }),
    ))
    .await;
    let http = reqwest::Client::new();
    let body: Value = json!({ "name": Go::NAME, "data": { "n": 1 } });
    let one_run = move |http: reqwest::Client, url: String, body: Value| async move {
        for _ in 0..round_trips {
            http.post(&url)
                .json(&body)
                .send()
                .await
                .expect("sent")
                .bytes()
                .await
                .expect("read");
        }
    };
    one_run(http.clone(), url.clone(), body.clone()).await;
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        one_run(http.clone(), url.clone(), body.clone()).await;
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let per = runs.div_ceil(16);
    for _ in 0..16 {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        set.spawn(async move {
            for _ in 0..per {
                one_run(http.clone(), url.clone(), body.clone()).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
    Result_ {
        label: format!("floor: {round_trips} bare HTTP round trips"),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        per_sec: (per * 16) as f64 / t.elapsed().as_secs_f64(),
    }
}

/// One event POST and `frames` WebSocket round trips per "run" (a frame the size of an
/// execution request, echoed at once), sequentially and 16 runs at a time.
async fn ws_floor(frames: usize, runs: usize) -> Result_ {
    let event_url = serve(axum::Router::new().route(
        "/",
        axum::routing::post(|_b: axum::body::Bytes| async { axum::Json(json!({ "ok": true })) }),
    ))
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let ws_url = format!("ws://{}/", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(frame)) = ws.next().await {
                    if frame.is_binary() && ws.send(frame).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let http = reqwest::Client::new();
    let payload = vec![b'x'; 1024];
    let body: Value = json!({ "name": Go::NAME, "data": { "n": 1 } });
    type Socket = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;
    async fn one_run(
        http: &reqwest::Client,
        url: &str,
        body: &Value,
        ws: &mut Socket,
        payload: &[u8],
        frames: usize,
    ) {
        http.post(url)
            .json(body)
            .send()
            .await
            .expect("sent")
            .bytes()
            .await
            .expect("read");
        for _ in 0..frames {
            ws.send(tokio_tungstenite::tungstenite::Message::Binary(
                payload.to_vec().into(),
            ))
            .await
            .expect("sent");
            ws.next().await.expect("an echo").expect("a frame");
        }
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .expect("the socket opens");
    one_run(&http, &event_url, &body, &mut ws, &payload, frames).await;
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        one_run(&http, &event_url, &body, &mut ws, &payload, frames).await;
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let per = runs.div_ceil(16);
    for _ in 0..16 {
        let (http, url, body, payload, ws_url) = (
            http.clone(),
            event_url.clone(),
            body.clone(),
            payload.clone(),
            ws_url.clone(),
        );
        set.spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
                .await
                .expect("the socket opens");
            for _ in 0..per {
                one_run(&http, &url, &body, &mut ws, &payload, frames).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
    Result_ {
        label: format!("floor: 1 HTTP POST + {frames} bare WebSocket round trips"),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        per_sec: (per * 16) as f64 / t.elapsed().as_secs_f64(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let write = args.iter().any(|a| a == "--write");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let rows = rt.block_on(async {
        let (classic, classic_calls) = measure(Transport::Serve, false, runs).await;
        let (checkpoint, _) = measure(Transport::Serve, true, runs).await;
        let (connect_classic, _) = measure(Transport::Connect, false, runs).await;
        let (connect_checkpoint, _) = measure(Transport::Connect, true, runs).await;
        // Classic: one event POST and one call per step plus the final call.
        let http_floor = floor(1 + classic_calls, runs).await;
        let ws_floor = ws_floor(classic_calls, runs).await;
        vec![
            classic,
            connect_classic,
            checkpoint,
            connect_checkpoint,
            http_floor,
            ws_floor,
        ]
    });
    let mut table = format!(
        "<!-- devserver-bench:start -->\n\nMeasured {} on this machine ({} cores), {runs} runs per row, loopback, release build.\n\n\
         | 3-step run | p50 event → completed | p99 | completed runs/s (16 senders) |\n|---|---:|---:|---:|\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
    );
    for r in &rows {
        table.push_str(&format!(
            "| {} | {:.0} µs | {:.0} µs | {:.0} |\n",
            r.label,
            r.p50.as_secs_f64() * 1e6,
            r.p99.as_secs_f64() * 1e6,
            r.per_sec
        ));
    }
    table.push_str("\n<!-- devserver-bench:end -->");
    println!("{table}");
    if write {
        write_section("devserver-bench", &table);
    }
}
