//! Event-to-completion: how long the dev server takes from receiving an event to recording the
//! run of a 3-step workflow as completed, and how many such runs it completes per second, with
//! the Rust app on loopback, served over HTTP (serve mode) or as a connect worker on the dev
//! server's gateway (connect mode). The floors are the same number of bare round trips: one
//! event POST and the SDK calls, as HTTP POSTs to an axum route that answers at once, or as
//! WebSocket frames echoed at once.
//!
//! `cargo bench -p inngest-devserver --bench event_to_completion [-- --runs N --write]`;
//! `--write` puts the table into docs/performance.md. `--only connect` (or `serve`) measures
//! those rows and the floors only, to compare changes quickly (it cannot be combined with
//! `--write`). `--asleep N` (default 10,000; 0 leaves it out) adds a row: the connect
//! classic run again, with N other runs asleep in the same server (a 3-day sleep each), so
//! that work which grows with what is queued shows. The last row is the connect checkpoint run
//! with the state in a SQLite file (`--state`), whose every turn is committed before it is
//! answered; the other rows keep it in memory, the default.

mod support;

use support::{percentile, process_cpu, write_section};

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

/// `bench/nap`: starts a run that sleeps for 3 days.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Nap {}
impl Event for Nap {
    const NAME: &'static str = "bench/nap";
}

/// One step, then a sleep that outlasts the benchmark.
struct Napper;
impl Workflow for Napper {
    type Event = Nap;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("napper")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<(), WorkflowError> {
        ctx.step.run("before", async { Ok(()) }).await?;
        ctx.step.sleep("nap", "3d").await
    }
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
    /// CPU time of the whole process (server, app, client: every thread) per sequential run.
    cpu_per_run: Duration,
}

/// How the app is reached.
#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Serve,
    Connect,
}

/// One row of the table: how the run is made, and the round trips of its floor.
#[derive(Clone, Copy)]
struct RowConfig {
    transport: Transport,
    checkpointing: bool,
    /// The floor: bare HTTP POSTs and bare WebSocket round trips.
    floor: (usize, usize),
    /// Other runs asleep in the server meanwhile.
    asleep: usize,
    /// The state in a SQLite file instead of in memory.
    state_file: bool,
}

/// Latency of `runs` sequential runs, then throughput of `runs` runs sent 16 at a time, made as
/// `config` says.
async fn measure(config: RowConfig, runs: usize) -> Result_ {
    let RowConfig {
        transport,
        checkpointing,
        asleep,
        state_file,
        ..
    } = config;
    let folder = state_file.then(|| tempfile::tempdir().expect("a folder"));
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing,
        state: folder.as_ref().map(|f| f.path().join("state.db")),
        ..DevServerConfig::default()
    })
    .await
    .expect("starts");
    let mut app =
        App::builder(Inngest::with_config("bench", Config::dev(server.url()))).register(ThreeSteps);
    // Only the row with runs asleep has the second function: the others stay as they were.
    if asleep > 0 {
        app = app.register(Napper);
    }
    let app = app.build().expect("registers");
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
    let naps_sent = Instant::now();
    let naps: Vec<Value> = (0..asleep)
        .map(|_| json!({ "name": Nap::NAME, "data": {} }))
        .collect();
    for batch in naps.chunks(1000) {
        server.send(batch.to_vec()).await.expect("naps sent");
    }
    if asleep > 0 {
        // Every nap has run its step and sleeps.
        server.engine().settled().await.expect("settles");
    }
    let naps_asleep = naps_sent.elapsed();

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
    // Warm up, and check the run is the one the floors stand for: three steps.
    send(0).await;
    let first = finished.recv().await.expect("a run");
    assert_eq!(first.status, RunStatus::Completed);
    assert_eq!(first.output, Some(json!(3)));
    assert_eq!(
        first.steps.len(),
        3,
        "the run's steps changed: fix the floors"
    );

    let mut latencies = Vec::with_capacity(runs);
    let cpu = process_cpu();
    for n in 0..runs as u64 {
        let t = Instant::now();
        send(n).await;
        let run = finished.recv().await.expect("a run");
        latencies.push(t.elapsed());
        assert_eq!(run.output, Some(json!(n + 3)));
    }
    let cpu_per_run = (process_cpu().saturating_sub(cpu)) / runs.max(1) as u32;
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
    let mut beside = if asleep > 0 {
        format!(
            ", {asleep} other runs asleep (sent 1,000 a request, all asleep {:.1} s later)",
            naps_asleep.as_secs_f64()
        )
    } else {
        String::new()
    };
    if state_file {
        beside.push_str(", state in a SQLite file (`--state`)");
    }
    Result_ {
        label: format!("{over}, {mode}{beside}"),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        per_sec,
        cpu_per_run,
    }
}

/// The floor of a run: `posts` bare HTTP POSTs and `frames` bare WebSocket round trips (a
/// frame the size of an execution request, echoed at once) per "run", made sequentially and
/// then 16 runs at a time. The POSTs go to an axum route that answers at once, with the same
/// HTTP client as the event POSTs.
async fn bare_floor(posts: usize, frames: usize, runs: usize) -> Result_ {
    let url = serve(axum::Router::new().route(
        "/",
        axum::routing::post(|_b: axum::body::Bytes| async { axum::Json(json!({ "ok": true })) }),
    ))
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let ws_url = format!("ws://{}/", listener.local_addr().expect("bound"));
    // Both ends read as the worker and the gateway do, so the floor is their bare cost.
    let ws_config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(inngest_runtime::protocol::connect::READ_BUFFER);
    let echo = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) =
                    tokio_tungstenite::accept_async_with_config(tcp, Some(ws_config)).await
                else {
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
        (posts, frames): (usize, usize),
    ) {
        for _ in 0..posts {
            http.post(url)
                .json(body)
                .send()
                .await
                .expect("sent")
                .bytes()
                .await
                .expect("read");
        }
        for _ in 0..frames {
            ws.send(tokio_tungstenite::tungstenite::Message::Binary(
                payload.to_vec().into(),
            ))
            .await
            .expect("sent");
            ws.next().await.expect("an echo").expect("a frame");
        }
    }
    let open = |ws_url: String| async move {
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(ws_url.as_str(), Some(ws_config), true)
                .await
                .expect("the socket opens");
        ws
    };
    let shape = (posts, frames);
    let mut ws = open(ws_url.clone()).await;
    one_run(&http, &url, &body, &mut ws, &payload, shape).await;
    let mut latencies = Vec::with_capacity(runs);
    let cpu = process_cpu();
    for _ in 0..runs {
        let t = Instant::now();
        one_run(&http, &url, &body, &mut ws, &payload, shape).await;
        latencies.push(t.elapsed());
    }
    let cpu_per_run = (process_cpu().saturating_sub(cpu)) / runs.max(1) as u32;
    latencies.sort();
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let per = runs.div_ceil(16);
    for _ in 0..16 {
        let (http, url, body, payload) = (http.clone(), url.clone(), body.clone(), payload.clone());
        let socket = open(ws_url.clone());
        set.spawn(async move {
            let mut ws = socket.await;
            for _ in 0..per {
                one_run(&http, &url, &body, &mut ws, &payload, shape).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
    echo.abort();
    let label = match (posts, frames) {
        (p, 0) => format!("floor: {p} bare HTTP round trips"),
        (p, f) => format!(
            "floor: {p} HTTP POST{} + {f} bare WebSocket round trip{}",
            if p == 1 { "" } else { "s" },
            if f == 1 { "" } else { "s" }
        ),
    };
    Result_ {
        label,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        per_sec: (per * 16) as f64 / t.elapsed().as_secs_f64(),
        cpu_per_run,
    }
}

/// One row of the table: a run's measurement and the floor of the same round trips, measured
/// in alternating rounds because this machine's speed drifts from one minute to the next.
struct Row {
    /// Per round: the run, and its floor.
    rounds: Vec<(Result_, Result_)>,
}

impl Row {
    fn share((run, floor): &(Result_, Result_)) -> f64 {
        run.p50.as_secs_f64() / floor.p50.as_secs_f64()
    }

    /// The round with the median p50 ÷ floor.
    fn median(&self) -> &(Result_, Result_) {
        let mut order: Vec<&(Result_, Result_)> = self.rounds.iter().collect();
        order.sort_by(|a, b| Self::share(a).total_cmp(&Self::share(b)));
        order[order.len() / 2]
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs = value("--runs").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let rounds: usize = value("--rounds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let write = args.iter().any(|a| a == "--write");
    let only = value("--only");
    let asleep: usize = value("--asleep")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    assert!(
        !(write && only.is_some()),
        "--write needs every row: leave out --only"
    );
    let wanted = move |t: Transport| match only.as_deref() {
        None => true,
        Some("serve") => t == Transport::Serve,
        Some("connect") => t == Transport::Connect,
        Some(other) => panic!("--only takes serve or connect, not {other:?}"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // The round trips each row makes: serve, 1 event POST and 4 calls (classic) or 1 call and
    // 3 checkpoint POSTs (checkpoint), all HTTP; connect, the calls are WebSocket exchanges
    // instead (the checkpoints stay HTTP).
    // Then the connect classic run again, with `asleep` other runs asleep (none: left out), and
    // the connect checkpoint run with its state in a file.
    let row = |transport, checkpointing, floor| RowConfig {
        transport,
        checkpointing,
        floor,
        asleep: 0,
        state_file: false,
    };
    let mut configs = vec![
        row(Transport::Serve, false, (5, 0)),
        row(Transport::Connect, false, (1, 4)),
        row(Transport::Serve, true, (5, 0)),
        row(Transport::Connect, true, (4, 1)),
    ];
    if asleep > 0 {
        configs.push(RowConfig {
            asleep,
            ..row(Transport::Connect, false, (1, 4))
        });
    }
    configs.push(RowConfig {
        state_file: true,
        ..row(Transport::Connect, true, (4, 1))
    });
    configs.retain(|config| wanted(config.transport));
    let rows = rt.block_on(async {
        let mut rows: Vec<Row> = configs.iter().map(|_| Row { rounds: Vec::new() }).collect();
        for _ in 0..rounds {
            for (row, &config) in rows.iter_mut().zip(&configs) {
                let measured = measure(config, runs).await;
                let (posts, frames) = config.floor;
                let floor = bare_floor(posts, frames, runs).await;
                row.rounds.push((measured, floor));
            }
        }
        rows
    });
    let mut table = format!(
        "<!-- devserver-bench:start -->\n\nMeasured {} on this machine ({} cores), {runs} runs per row and round, {rounds} rounds, loopback, release build. Each row's run and its floor are measured one after the other in every round; the round with the median p50 ÷ floor is shown, with every round's ratio. CPU per run: the CPU time of the whole process (dev server, app, client and floor's echo: every thread, both cores) over the sequential runs, divided by their number; it drifts less with the machine than latency does.\n\n\
         | 3-step run | p50 event → completed | p99 | completed runs/s (16 senders) | its floor: p50, runs/s | p50 ÷ floor | CPU per run: the run, its floor |\n|---|---:|---:|---:|---|---:|---:|\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
    );
    for row in &rows {
        let (r, floor) = row.median();
        let shares: Vec<String> = row
            .rounds
            .iter()
            .map(|round| format!("{:.2}", Row::share(round)))
            .collect();
        table.push_str(&format!(
            "| {} | {:.0} µs | {:.0} µs | {:.0} | {}: {:.0} µs, {:.0} | **{:.2}x** ({}) | {:.0} µs, {:.0} µs |\n",
            r.label,
            r.p50.as_secs_f64() * 1e6,
            r.p99.as_secs_f64() * 1e6,
            r.per_sec,
            floor.label.trim_start_matches("floor: "),
            floor.p50.as_secs_f64() * 1e6,
            floor.per_sec,
            r.p50.as_secs_f64() / floor.p50.as_secs_f64(),
            shares.join(", "),
            r.cpu_per_run.as_secs_f64() * 1e6,
            floor.cpu_per_run.as_secs_f64() * 1e6,
        ));
    }
    table.push_str("\n<!-- devserver-bench:end -->");
    println!("{table}");
    if write {
        write_section("devserver-bench", &table);
    }
}
