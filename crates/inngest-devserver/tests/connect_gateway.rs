//! Our connect worker (`inngest_runtime::connect`) against the dev server's gateway: the
//! worker finds it with nothing but the dev server's URL, its app is synced from
//! `WORKER_CONNECT`, runs complete over the socket in classic and checkpoint mode, two workers
//! share the work, a run whose worker is killed mid-step completes on a worker started
//! afterwards, a run survives its gateway's restart, and the gateway drops a worker that stops
//! heartbeating or breaks the handshake.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use inngest_devserver::{DevServer, DevServerConfig, RunStatus};
use inngest_runtime::config::Config;
use inngest_runtime::connect::Worker;
use inngest_runtime::protocol::connect::*;
use inngest_runtime::{App, Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions};
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Job {
    #[garde(skip)]
    n: u64,
    /// How long the first step takes on the first attempt, in ms.
    #[garde(skip)]
    #[serde(default)]
    slow_ms: u64,
}
impl Event for Job {
    const NAME: &'static str = "test/job";
}

/// Two steps and a sleep; counts the steps it ran and the requests it answered.
struct Steps {
    ran: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}
impl Workflow for Steps {
    type Event = Job;
    type Output = u64;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("steps")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u64, WorkflowError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let job = &ctx.event.data;
        let attempt = ctx.attempt;
        let a = ctx
            .step
            .run("one", async {
                if attempt == 0 && job.slow_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(job.slow_ms)).await;
                }
                self.ran.fetch_add(1, Ordering::SeqCst);
                Ok(job.n + 1)
            })
            .await?;
        ctx.step.sleep("nap", "1s").await?;
        ctx.step
            .run("two", async {
                self.ran.fetch_add(1, Ordering::SeqCst);
                Ok(a * 10)
            })
            .await
    }
}

async fn server(checkpointing: bool) -> DevServer {
    DevServer::start(DevServerConfig {
        port: 0,
        checkpointing,
        retry_interval: Some(Duration::from_secs(1)),
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts")
}

/// What a test worker counted: steps run, requests answered.
struct Counts {
    ran: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

/// A worker of app `cx` against `server`, not yet started, and its counters.
fn cx_worker(server: &DevServer, instance: &str) -> (Counts, Worker) {
    let counts = Counts {
        ran: Arc::new(AtomicUsize::new(0)),
        requests: Arc::new(AtomicUsize::new(0)),
    };
    let app = App::builder(Inngest::with_config("cx", Config::dev(server.url())))
        .register(Steps {
            ran: counts.ran.clone(),
            requests: counts.requests.clone(),
        })
        .build()
        .expect("the app builds");
    (counts, Worker::new(app).instance_id(instance))
}

/// Runs `worker` until its stop is sent; the stop and the task.
fn spawn_worker(
    worker: Worker,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), inngest_runtime::connect::ConnectError>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));
    (stop, task)
}

/// A worker of app `cx` against `server`, running; its counters, its stop and its task.
fn worker(
    server: &DevServer,
    instance: &str,
) -> (
    Counts,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (counts, worker) = cx_worker(server, instance);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // One task, so that aborting it kills the worker (a crash, in the tests that need one).
    let task = tokio::spawn(async move {
        let _ = worker
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });
    (counts, stop, task)
}

async fn apps(server: &DevServer) -> Value {
    reqwest::get(format!("{}/v1/apps", server.url()))
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("JSON")
}

/// Waits until app `cx` has `n` active workers (5 s at most).
async fn workers(server: &DevServer, n: usize) {
    workers_within(server, n, Duration::from_secs(5)).await;
}

/// [`workers`], waiting up to `within`.
async fn workers_within(server: &DevServer, n: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        let apps = apps(server).await;
        let active = apps["data"]
            .as_array()
            .and_then(|a| a.iter().find(|app| app["id"] == "cx"))
            .and_then(|app| app["workers"].as_array())
            .map_or(0, |w| w.iter().filter(|w| w["active"] == true).count());
        if active == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("app cx never had {n} workers: {}", apps(server).await);
}

async fn run_one(server: &DevServer, data: Value) -> inngest_devserver::RunView {
    let ids = server
        .send(vec![json!({ "name": Job::NAME, "data": data })])
        .await
        .expect("sent");
    finish(server, &ids[0]).await.expect("the run finished")
}

/// The finished run of `cx-steps` that `event_id` started, moving the clock past its sleep of
/// a second (and any retry) as soon as it waits; `None` if it does not finish in about 20 s.
async fn finish(server: &DevServer, event_id: &str) -> Option<inngest_devserver::RunView> {
    for _ in 0..400 {
        if let Some(run) = server
            .finished_run(event_id, "cx-steps", Duration::from_millis(50))
            .await
            .expect("the server runs")
        {
            return Some(run);
        }
        server
            .advance(Duration::from_secs(2))
            .await
            .expect("the clock moves");
    }
    None
}

/// Waits (2 s at most) until the worker behind `counts` has taken its first request: its
/// first step is running.
async fn until_running(counts: &Counts) {
    for _ in 0..200 {
        if counts.requests.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        counts.requests.load(Ordering::SeqCst),
        1,
        "the step is running"
    );
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A worker driven by hand, frame by frame, for what our `Worker` would never do (let a lease
/// run out, stop heartbeating). It serves app `app` with the `Steps` workflow's config.
struct HandWorker {
    ws: Socket,
}

impl HandWorker {
    /// Start API, socket, hello, `WORKER_CONNECT`, ready, `WORKER_READY`: connected.
    async fn connect(
        server: &DevServer,
        app_name: &str,
        instance: &str,
    ) -> (Self, GatewayConnectionReadyData) {
        Self::connect_with(server, app_name, instance, None).await
    }

    /// [`HandWorker::connect`], with the socket's receive buffer fixed at `recv_buffer` bytes
    /// when given (which turns off the kernel's growing it).
    async fn connect_with(
        server: &DevServer,
        app_name: &str,
        instance: &str,
        recv_buffer: Option<u32>,
    ) -> (Self, GatewayConnectionReadyData) {
        let bytes = reqwest::Client::new()
            .post(format!("{}/v0/connect/start", server.url()))
            .header("content-type", "application/protobuf")
            .send()
            .await
            .expect("start answers")
            .bytes()
            .await
            .expect("a body");
        let start = StartResponse::decode(bytes.as_ref()).expect("a StartResponse");
        let mut req = start
            .gateway_endpoint
            .as_str()
            .into_client_request()
            .expect("a URL");
        req.headers_mut().insert(
            "sec-websocket-protocol",
            SUBPROTOCOL.parse().expect("a header value"),
        );
        let (ws, _) = match recv_buffer {
            None => tokio_tungstenite::connect_async(req)
                .await
                .expect("the socket opens"),
            Some(size) => {
                let authority = req.uri().authority().expect("a host and port").as_str();
                let address: std::net::SocketAddr = authority.parse().expect("an IP address");
                let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
                socket.set_recv_buffer_size(size).expect("a buffer size");
                let stream = socket.connect(address).await.expect("connected");
                tokio_tungstenite::client_async(
                    req,
                    tokio_tungstenite::MaybeTlsStream::Plain(stream),
                )
                .await
                .expect("the socket opens")
            }
        };
        let mut hand = Self { ws };
        assert_eq!(hand.next().await.kind(), GatewayMessageType::GatewayHello);
        let app = App::builder(Inngest::with_config(app_name, Config::dev(server.url())))
            .register(Steps {
                ran: Arc::default(),
                requests: Arc::default(),
            })
            .build()
            .expect("builds");
        let connect = WorkerConnectRequestData {
            connection_id: start.connection_id.clone(),
            instance_id: instance.into(),
            auth_data: Some(AuthData {
                session_token: start.session_token.clone(),
                sync_token: start.sync_token.clone(),
            }),
            capabilities: br#"{"connect":"v1"}"#.to_vec(),
            apps: vec![AppConfiguration {
                app_name: app_name.into(),
                functions: serde_json::to_vec(&app.function_configs("wss://connect/", "ws"))
                    .expect("json"),
                ..Default::default()
            }],
            framework: "connect".into(),
            sdk_language: "test".into(),
            sdk_version: "v0".into(),
            ..Default::default()
        };
        hand.send(GatewayMessageType::WorkerConnect, &connect).await;
        let ready = hand.next().await;
        assert_eq!(ready.kind(), GatewayMessageType::GatewayConnectionReady);
        let ready: GatewayConnectionReadyData = ready.payload_as().expect("decodes");
        hand.send_bare(GatewayMessageType::WorkerReady).await;
        (hand, ready)
    }

    /// The next message (20 s at most).
    async fn next(&mut self) -> ConnectMessage {
        self.next_within(Duration::from_secs(20))
            .await
            .expect("the gateway says something")
    }

    /// The next message, or `None` if the socket closed or `within` passed first.
    async fn next_within(&mut self, within: Duration) -> Option<ConnectMessage> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match frame {
                Frame::Binary(b) => {
                    return Some(ConnectMessage::decode(b.as_ref()).expect("a ConnectMessage"));
                }
                Frame::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Whether the gateway closes the socket within `within` (messages in between are read and
    /// dropped).
    async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Frame::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    async fn send(&mut self, kind: GatewayMessageType, payload: &impl Message) {
        let frame = ConnectMessage::of(kind, payload).encode_to_vec();
        self.ws
            .send(Frame::Binary(frame.into()))
            .await
            .expect("sent");
    }

    async fn send_bare(&mut self, kind: GatewayMessageType) {
        let frame = ConnectMessage::bare(kind).encode_to_vec();
        self.ws
            .send(Frame::Binary(frame.into()))
            .await
            .expect("sent");
    }
}

async fn completes_over_connect(checkpointing: bool) {
    let server = server(checkpointing).await;
    let (counts, stop, task) = worker(&server, "w1");
    workers(&server, 1).await;
    let apps = apps(&server).await;
    let app = apps["data"]
        .as_array()
        .and_then(|a| a.iter().find(|app| app["id"] == "cx"))
        .expect("app cx is synced")
        .clone();
    assert_eq!(app["transport"], "connect", "{app}");
    assert_eq!(app["workers"][0]["instance_id"], "w1", "{app}");
    let run = run_one(&server, json!({ "n": 4 })).await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.output, Some(json!(50)));
    assert_eq!(counts.ran.load(Ordering::SeqCst), 2, "each step ran once");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the worker stops")
        .expect("no panic");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completes_over_connect_in_classic_mode() {
    completes_over_connect(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completes_over_connect_in_checkpoint_mode() {
    completes_over_connect(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_work() {
    let server = server(false).await;
    let (a_counts, stop_a, _a) = worker(&server, "wa");
    let (b_counts, stop_b, _b) = worker(&server, "wb");
    workers(&server, 2).await;
    for n in 0..4 {
        let run = run_one(&server, json!({ "n": n })).await;
        assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    }
    let (a, b) = (
        a_counts.ran.load(Ordering::SeqCst),
        b_counts.ran.load(Ordering::SeqCst),
    );
    assert_eq!(a + b, 8, "every step ran once: {a} + {b}");
    let (ra, rb) = (
        a_counts.requests.load(Ordering::SeqCst),
        b_counts.requests.load(Ordering::SeqCst),
    );
    assert!(ra > 0 && rb > 0, "both workers got requests: {ra} and {rb}");
    let _ = (stop_a.send(()), stop_b.send(()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_worker_is_killed_mid_step_completes_on_the_next_worker() {
    // A killed worker's call is retried once its lease runs out (2 s here).
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing: false,
        retry_interval: Some(Duration::from_secs(1)),
        connect_lease: Duration::from_secs(2),
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let (_, _stop, task) = worker(&server, "doomed");
    workers(&server, 1).await;
    let ids = server
        .send(vec![
            json!({ "name": Job::NAME, "data": { "n": 1, "slow_ms": 60000 } }),
        ])
        .await
        .expect("sent");
    // The step is running on the doomed worker: kill it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    task.abort();
    workers(&server, 0).await;
    let (heir, _stop2, _task2) = worker(&server, "heir");
    workers(&server, 1).await;
    let run = finish(&server, &ids[0]).await.expect("the run finished");
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.output, Some(json!(20)));
    assert_eq!(
        heir.ran.load(Ordering::SeqCst),
        2,
        "the heir ran both steps"
    );
    server.stop().await;
}

/// A worker that takes a call and never extends its lease: past the lease the call is a failed
/// attempt and goes out again; the old call's lease is not renewed and its late reply does not
/// end the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_lease_runs_out_is_retried_and_its_late_reply_is_ignored() {
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing: false,
        retry_interval: Some(Duration::from_secs(1)),
        connect_lease: Duration::from_secs(1),
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let (mut hand, ready) = HandWorker::connect(&server, "lz", "lazy").await;
    assert_eq!(
        ready.extend_lease_interval, "250ms",
        "four extensions a lease"
    );
    let ws = &mut hand;
    let ids = server
        .send(vec![json!({ "name": Job::NAME, "data": { "n": 1 } })])
        .await
        .expect("sent");
    let first = ws.next().await;
    assert_eq!(first.kind(), GatewayMessageType::GatewayExecutorRequest);
    let first: GatewayExecutorRequestData = first.payload_as().expect("decodes");
    let body: Value = serde_json::from_slice(&first.request_payload).expect("JSON");
    assert_eq!(body["ctx"]["attempt"], 0);
    let ack = WorkerRequestAckData {
        request_id: first.request_id.clone(),
        ..Default::default()
    };
    ws.send(GatewayMessageType::WorkerRequestAck, &ack).await;

    // No extension: past the lease, the call goes out again as the next attempt.
    let second = ws.next().await;
    assert_eq!(second.kind(), GatewayMessageType::GatewayExecutorRequest);
    let second: GatewayExecutorRequestData = second.payload_as().expect("decodes");
    assert_ne!(second.request_id, first.request_id);
    let body: Value = serde_json::from_slice(&second.request_payload).expect("JSON");
    assert_eq!(
        body["ctx"]["attempt"], 1,
        "the expired call counted as an attempt"
    );

    // The old call's lease is gone, and its late reply changes nothing.
    let extend = WorkerRequestExtendLeaseData {
        request_id: first.request_id.clone(),
        lease_id: first.lease_id.clone(),
        ..Default::default()
    };
    ws.send(GatewayMessageType::WorkerRequestExtendLease, &extend)
        .await;
    let lease = ws.next().await;
    assert_eq!(
        lease.kind(),
        GatewayMessageType::WorkerRequestExtendLeaseAck
    );
    let lease: WorkerRequestExtendLeaseAckData = lease.payload_as().expect("decodes");
    assert_eq!(lease.new_lease_id, None);
    let reply = |request_id: &str, body: &str| SdkResponse {
        request_id: request_id.to_string(),
        status: SdkResponseStatus::Done as i32,
        body: body.as_bytes().to_vec(),
        request_version: 2,
        ..Default::default()
    };
    ws.send(
        GatewayMessageType::WorkerReply,
        &reply(&first.request_id, "1"),
    )
    .await;
    assert_eq!(ws.next().await.kind(), GatewayMessageType::WorkerReplyAck);
    ws.send(
        GatewayMessageType::WorkerReply,
        &reply(&second.request_id, "42"),
    )
    .await;
    let run = server
        .finished_run(&ids[0], "lz-steps", Duration::from_secs(10))
        .await
        .expect("the server runs")
        .expect("the run finished");
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(
        run.output,
        Some(json!(42)),
        "the live call's reply ended the run"
    );
    server.stop().await;
}

/// Stopping the dev server tells its workers `GATEWAY_CLOSING`: they leave at once to look for
/// another gateway, instead of staying on a socket to a server that runs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_sends_its_workers_away() {
    let server = server(false).await;
    let (_, worker) = cx_worker(&server, "w1");
    let mut state = worker.state();
    let (stop, task) = spawn_worker(worker);
    workers(&server, 1).await;
    assert_eq!(
        *state.borrow(),
        inngest_runtime::connect::WorkerState::Active
    );
    server.stop().await;
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| *s != inngest_runtime::connect::WorkerState::Active),
    )
    .await
    .expect("the worker left the stopped gateway")
    .expect("state");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}

/// Hostile or broken workers get a clear refusal and change nothing: garbage instead of
/// `WORKER_CONNECT`, a made-up connection id, functions that are not JSON, no apps at all. The
/// gateway keeps serving a good worker afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_handshakes_are_refused_and_change_nothing() {
    let server = server(false).await;
    let url = format!("{}/v0/connect", server.url().replace("http://", "ws://"));
    let good_id = ulid::Ulid::new().to_string();
    let connect = |connection_id: &str, functions: &[u8], apps: bool| WorkerConnectRequestData {
        connection_id: connection_id.to_string(),
        instance_id: "hostile".into(),
        apps: if apps {
            vec![AppConfiguration {
                app_name: "bad".into(),
                functions: functions.to_vec(),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let wire = |m: &WorkerConnectRequestData| {
        ConnectMessage::of(GatewayMessageType::WorkerConnect, m).encode_to_vec()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\xff\xff\xff not protobuf".to_vec()),
        (
            "wrong kind",
            ConnectMessage::bare(GatewayMessageType::WorkerReply).encode_to_vec(),
        ),
        (
            "made-up connection id",
            wire(&connect("not-a-ulid", b"[]", true)),
        ),
        ("functions not JSON", wire(&connect(&good_id, b"{{{", true))),
        ("no apps", wire(&connect(&good_id, b"[]", false))),
    ];
    for (what, first) in cases {
        let mut req = url.as_str().into_client_request().expect("a URL");
        req.headers_mut().insert(
            "sec-websocket-protocol",
            SUBPROTOCOL.parse().expect("a value"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("the socket opens");
        let hello = ws.next().await.expect("a frame").expect("ok");
        assert!(matches!(hello, Frame::Binary(_)), "{what}: hello first");
        ws.send(Frame::Binary(first.into())).await.expect("sent");
        // A refusal says why (SYNC_FAILED) or just closes; it never goes on to READY.
        let mut refused = false;
        while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            match frame {
                Ok(Frame::Binary(b)) => {
                    let m = ConnectMessage::decode(b.as_ref()).expect("a ConnectMessage");
                    assert_ne!(
                        m.kind(),
                        GatewayMessageType::GatewayConnectionReady,
                        "{what}: accepted"
                    );
                    if m.kind() == GatewayMessageType::SyncFailed {
                        let why: SystemError = m.payload_as().expect("decodes");
                        assert!(!why.message.is_empty(), "{what}: a reason");
                        refused = true;
                    }
                }
                Ok(Frame::Close(_)) | Err(_) => {
                    refused = true;
                    break;
                }
                Ok(_) => {}
            }
        }
        assert!(refused, "{what}: neither refused nor closed");
    }
    // Nothing was synced, and a good worker still gets in and runs.
    let apps = apps(&server).await;
    assert!(
        !apps["data"]
            .as_array()
            .is_some_and(|a| a.iter().any(|app| app["id"] == "bad")),
        "{apps}"
    );
    let (counts, stop, _task) = worker(&server, "good");
    workers(&server, 1).await;
    let run = run_one(&server, json!({ "n": 1 })).await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(counts.ran.load(Ordering::SeqCst), 2);
    let _ = stop.send(());
    server.stop().await;
}

/// A worker that stops heartbeating is dropped after five missed heartbeats, as the official
/// gateway drops it; other messages do not count as heartbeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_stops_heartbeating_is_dropped() {
    let heartbeat = Duration::from_millis(200);
    let server = DevServer::start(DevServerConfig {
        port: 0,
        connect_heartbeat: heartbeat,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let (mut hand, ready) = HandWorker::connect(&server, "cx", "quiet").await;
    assert_eq!(ready.heartbeat_interval, "200ms");
    // Heartbeating for longer than five intervals keeps it connected.
    let beating = tokio::time::Instant::now();
    let mut last_beat = beating;
    while beating.elapsed() < heartbeat * 8 {
        last_beat = tokio::time::Instant::now();
        hand.send_bare(GatewayMessageType::WorkerHeartbeat).await;
        assert_eq!(
            hand.next().await.kind(),
            GatewayMessageType::GatewayHeartbeat
        );
        tokio::time::sleep(heartbeat).await;
    }
    workers(&server, 1).await;
    // Then only other messages: dropped within five intervals and one check.
    let quiet = tokio::time::Instant::now();
    let mut closed = false;
    while quiet.elapsed() < heartbeat * 12 {
        let frame = ConnectMessage::bare(GatewayMessageType::WorkerReady).encode_to_vec();
        if hand.ws.send(Frame::Binary(frame.into())).await.is_err()
            || hand.closed_within(heartbeat).await
        {
            closed = true;
            break;
        }
    }
    let after = last_beat.elapsed();
    assert!(
        closed,
        "the worker was not dropped {after:?} after its last heartbeat"
    );
    assert!(
        after >= heartbeat * 5,
        "dropped too early, {after:?} after its last heartbeat"
    );
    workers(&server, 0).await;
    server.stop().await;
}

/// Upgraded connections leave the HTTP server's connection limit, so the gateway counts its
/// sessions itself: past 256 open at once (`MAX_SESSIONS`), handshakes included, an upgrade
/// is refused with a 503 and the HTTP API still answers; once a session ends its place is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_the_limit_are_refused_until_one_ends() {
    const MAX_SESSIONS: usize = 256;
    let server = DevServer::start(DevServerConfig {
        port: 0,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let url = format!("{}/v0/connect", server.url().replace("http://", "ws://"));
    let open = |url: String| async move {
        let mut req = url.as_str().into_client_request().expect("a URL");
        req.headers_mut().insert(
            "sec-websocket-protocol",
            SUBPROTOCOL.parse().expect("a header value"),
        );
        tokio_tungstenite::connect_async(req).await
    };
    // Sessions that never send WORKER_CONNECT end after 10 s on their own: what follows must
    // happen before, or it proves nothing.
    let began = tokio::time::Instant::now();
    let mut sessions = Vec::new();
    for n in 0..MAX_SESSIONS {
        let (ws, _) = open(url.clone())
            .await
            .unwrap_or_else(|e| panic!("session {n} opens: {e}"));
        sessions.push(ws);
    }
    match open(url.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 503, "{resp:?}");
        }
        other => panic!("one session past the limit was not refused: {other:?}"),
    }
    let apps = reqwest::get(format!("{}/v1/apps", server.url()))
        .await
        .expect("the API answers");
    assert_eq!(apps.status(), 200);
    // One session ends (closed before its handshake): a new one gets its place.
    let mut first = sessions.remove(0);
    let _ = first.close(None).await;
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match open(url.clone()).await {
            Ok((ws, _)) => {
                sessions.push(ws);
                break;
            }
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no place was freed: {e}"),
        }
    }
    assert!(
        began.elapsed() < Duration::from_secs(9),
        "took {:?}: the sessions' own 10 s handshake limit may have freed the places",
        began.elapsed()
    );
    drop(sessions);
    server.stop().await;
}

/// A worker that heartbeats but never reads: once its socket's buffers are full the gateway's
/// writes cannot finish, and the gateway drops it within the heartbeats' silence window instead
/// of waiting on it for good (and queueing its runs' requests behind it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_never_reads_is_dropped() {
    let heartbeat = Duration::from_millis(200);
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing: false,
        connect_heartbeat: heartbeat,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    // A small receive buffer: the kernel would otherwise grow it to tens of MB.
    let (mut hand, _) = HandWorker::connect_with(&server, "cx", "deaf", Some(64 * 1024)).await;
    workers(&server, 1).await;
    // 40 runs whose requests carry 400 KB each, far more than the socket's buffers take.
    let pad = "x".repeat(400 * 1024);
    let events: Vec<Value> = (0..40)
        .map(|n| json!({ "name": Job::NAME, "data": { "n": n, "pad": pad } }))
        .collect();
    server.send(events).await.expect("accepted");
    // Heartbeats go on (the gateway may stop reading them once it is stuck), nothing is read.
    let beating = tokio::spawn(async move {
        loop {
            let frame = ConnectMessage::bare(GatewayMessageType::WorkerHeartbeat).encode_to_vec();
            if hand.ws.send(Frame::Binary(frame.into())).await.is_err() {
                return;
            }
            tokio::time::sleep(heartbeat).await;
        }
    });
    workers_within(&server, 0, Duration::from_secs(15)).await;
    beating.abort();
    server.stop().await;
}

/// The gateway restarts (the dev server stops, and a new one starts on its state and its
/// address) while a step runs: the worker reconnects by itself and the run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_a_restart_of_its_gateway() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = DevServerConfig {
        port: 0,
        checkpointing: false,
        state: Some(dir.path().join("state.db")),
        retry_interval: Some(Duration::from_secs(1)),
        ..DevServerConfig::default()
    };
    // One bound socket for both servers: it stays bound and listening in between (what
    // arrives then waits in its backlog), so no other process can take the address.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let first = DevServer::start_on(config.clone(), listener.try_clone().expect("a clone"))
        .await
        .expect("the first server starts");
    let (counts, stop, task) = worker(&first, "w1");
    workers(&first, 1).await;
    let ids = first
        .send(vec![
            json!({ "name": Job::NAME, "data": { "n": 4, "slow_ms": 1500 } }),
        ])
        .await
        .expect("sent");
    until_running(&counts).await;
    first.stop().await;

    let second = DevServer::start_on(config, listener.try_clone().expect("a clone"))
        .await
        .expect("the second server starts");
    // The worker may have tried while no server answered, and be in its backoff (1, 2, 5 s).
    workers_within(&second, 1, Duration::from_secs(20)).await;
    let run = finish(&second, &ids[0])
        .await
        .expect("the run finished after the restart");
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.output, Some(json!(50)));
    // The step running when the server stopped ran again on the new one, which knows only what
    // the state file holds (the old server's call was lost with it): at least once, and
    // nothing else twice.
    let ran = counts.ran.load(Ordering::SeqCst);
    assert!((2..=3).contains(&ran), "steps ran {ran} times");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    second.stop().await;
}

/// Shutting a worker down (SIGTERM in an app: `run_until`'s future) while a step runs: it
/// pauses at once (no new work comes to it), finishes the step, delivers its reply and only
/// then closes. Nothing is lost and nothing runs twice: the next worker takes the run on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_shut_down_mid_step_finishes_the_step_first() {
    let server = server(false).await;
    let (first, stop_first, first_task) = worker(&server, "w1");
    workers(&server, 1).await;
    let ids = server
        .send(vec![
            json!({ "name": Job::NAME, "data": { "n": 2, "slow_ms": 1500 } }),
        ])
        .await
        .expect("sent");
    until_running(&first).await;
    let _ = stop_first.send(());
    // Paused at once, still connected while the step runs.
    workers(&server, 0).await;
    let apps: Value = reqwest::get(format!("{}/v1/apps", server.url()))
        .await
        .expect("the apps API answers")
        .json()
        .await
        .expect("JSON");
    let shown = &apps["data"][0]["workers"][0];
    assert_eq!(
        (&shown["instance_id"], &shown["active"]),
        (&json!("w1"), &json!(false)),
        "paused, still connected: {apps}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!first_task.is_finished(), "closed before its step finished");
    assert_eq!(first.ran.load(Ordering::SeqCst), 0);
    tokio::time::timeout(Duration::from_secs(10), first_task)
        .await
        .expect("the worker closes once its step is done")
        .expect("the worker task");
    assert_eq!(first.ran.load(Ordering::SeqCst), 1, "the step finished");

    let (second, stop_second, _task) = worker(&server, "w2");
    workers(&server, 1).await;
    let run = finish(&server, &ids[0])
        .await
        .expect("the run finished on the second worker");
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.output, Some(json!(30)));
    assert_eq!(first.ran.load(Ordering::SeqCst), 1, "step one ran once");
    assert_eq!(second.ran.load(Ordering::SeqCst), 1, "step two ran on w2");
    let _ = stop_second.send(());
    server.stop().await;
}

/// A TCP proxy in front of the gateway whose connections can be cut, as a network would.
struct Proxy {
    addr: std::net::SocketAddr,
    links: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn to(upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("an address");
        let links: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let held = links.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                held.lock().expect("links").push(link.abort_handle());
            }
        });
        Self {
            addr,
            links,
            accept,
        }
    }

    /// Drops every connection open now (both sockets close).
    fn cut(&self) -> usize {
        let links: Vec<_> = self.links.lock().expect("links").drain(..).collect();
        for link in &links {
            link.abort();
        }
        links.len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The worker's socket breaks while a step runs, the worker itself lives on: the step goes on,
/// the worker reconnects, its reply is delivered (over the new socket or the flush API) before
/// the lease runs out, and the run completes with each step run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_socket_does_not_stop_a_running_step() {
    let server = server(false).await;
    let upstream: std::net::SocketAddr = server
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let proxy = Proxy::to(upstream).await;
    let (counts, worker) = cx_worker(&server, "flaky-net");
    let (stop, task) = spawn_worker(worker.gateway_url(format!("ws://{}/v0/connect", proxy.addr)));
    workers(&server, 1).await;
    let ids = server
        .send(vec![
            json!({ "name": Job::NAME, "data": { "n": 6, "slow_ms": 2000 } }),
        ])
        .await
        .expect("sent");
    until_running(&counts).await;
    assert_eq!(proxy.cut(), 1, "one socket cut");
    let run = finish(&server, &ids[0]).await.expect("the run finished");
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.output, Some(json!(70)));
    assert_eq!(counts.ran.load(Ordering::SeqCst), 2, "each step ran once");
    let failed = run.steps.iter().filter(|s| s.error.is_some()).count();
    assert_eq!(failed, 0, "no attempt failed: {run:?}");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    server.stop().await;
}

/// A request the worker never acknowledges (it was pausing, its socket going away) did not run:
/// it goes out again after 5 s as the same attempt. A lease extension that crossed its own
/// acknowledgement (naming the lease before the newest) is still honoured; a made-up one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_request_is_sent_again_as_the_same_attempt() {
    let server = server(false).await;
    let (mut hand, _) = HandWorker::connect(&server, "na", "silent").await;
    let ids = server
        .send(vec![json!({ "name": Job::NAME, "data": { "n": 1 } })])
        .await
        .expect("sent");
    let first = hand.next().await;
    assert_eq!(first.kind(), GatewayMessageType::GatewayExecutorRequest);
    let first: GatewayExecutorRequestData = first.payload_as().expect("decodes");
    let sent_at = tokio::time::Instant::now();
    // No ACK: it comes again, and counts as no attempt.
    let second = loop {
        let m = hand.next().await;
        if m.kind() == GatewayMessageType::GatewayExecutorRequest {
            break m;
        }
    };
    assert!(
        sent_at.elapsed() >= Duration::from_secs(4),
        "{:?}",
        sent_at.elapsed()
    );
    let second: GatewayExecutorRequestData = second.payload_as().expect("decodes");
    assert_ne!(second.request_id, first.request_id);
    let body: Value = serde_json::from_slice(&second.request_payload).expect("JSON");
    assert_eq!(body["ctx"]["attempt"], 0, "nothing ran, no attempt used");

    // This one is acknowledged; its lease extended twice with the first lease id.
    hand.send(
        GatewayMessageType::WorkerRequestAck,
        &WorkerRequestAckData {
            request_id: second.request_id.clone(),
            ..Default::default()
        },
    )
    .await;
    let mut new_leases = Vec::new();
    for lease_id in [
        second.lease_id.clone(),
        second.lease_id.clone(),
        "made-up".into(),
    ] {
        hand.send(
            GatewayMessageType::WorkerRequestExtendLease,
            &WorkerRequestExtendLeaseData {
                request_id: second.request_id.clone(),
                lease_id,
                ..Default::default()
            },
        )
        .await;
        let ack = loop {
            let m = hand.next().await;
            if m.kind() == GatewayMessageType::WorkerRequestExtendLeaseAck {
                break m;
            }
        };
        let ack: WorkerRequestExtendLeaseAckData = ack.payload_as().expect("decodes");
        new_leases.push(ack.new_lease_id);
    }
    assert!(new_leases[0].is_some(), "the current lease is extended");
    assert!(
        new_leases[1].is_some(),
        "the lease before the newest is honoured"
    );
    assert_eq!(new_leases[2], None, "a lease it never had is not");
    hand.send(
        GatewayMessageType::WorkerReply,
        &SdkResponse {
            request_id: second.request_id.clone(),
            status: SdkResponseStatus::Done as i32,
            body: b"11".to_vec(),
            request_version: 2,
            ..Default::default()
        },
    )
    .await;
    let run = server
        .finished_run(&ids[0], "na-steps", Duration::from_secs(10))
        .await
        .expect("the server runs")
        .expect("the run finished");
    assert_eq!(run.output, Some(json!(11)));
    server.stop().await;
}

/// A worker told to stop while its socket is down and a step runs: it still reconnects
/// (paused, taking no new work) to extend the step's lease and deliver its reply, then stops.
/// The step runs once; the next worker only runs what follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_while_its_socket_is_down_still_delivers_its_step() {
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing: false,
        retry_interval: Some(Duration::from_secs(1)),
        connect_lease: Duration::from_secs(2),
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let upstream: std::net::SocketAddr = server
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let proxy = Proxy::to(upstream).await;
    let (first, stopping) = cx_worker(&server, "stopping");
    let (stop, task) =
        spawn_worker(stopping.gateway_url(format!("ws://{}/v0/connect", proxy.addr)));
    workers(&server, 1).await;
    let ids = server
        .send(vec![
            json!({ "name": Job::NAME, "data": { "n": 3, "slow_ms": 4000 } }),
        ])
        .await
        .expect("sent");
    until_running(&first).await;
    assert_eq!(proxy.cut(), 1);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the worker stops once its step is delivered")
        .expect("no panic")
        .expect("stopped cleanly");
    assert_eq!(first.ran.load(Ordering::SeqCst), 1, "the step finished");

    let (second, stop_second, _task) = worker(&server, "next");
    let run = finish(&server, &ids[0]).await.expect("the run finished");
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.output, Some(json!(40)));
    assert_eq!(
        second.ran.load(Ordering::SeqCst),
        1,
        "the next worker ran step two only"
    );
    let failed = run.steps.iter().filter(|s| s.error.is_some()).count();
    assert_eq!(failed, 0, "no attempt failed: {run:?}");
    let _ = stop_second.send(());
    server.stop().await;
}

/// `big/requested`: how many bytes the first step of [`Big`] returns.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct BigRequested {
    #[garde(skip)]
    bytes: usize,
}
impl Event for BigRequested {
    const NAME: &'static str = "test/big.requested";
}

/// A step that returns a large string, and a step that reads it back from the memo: the reply
/// that carries it and the next request that carries it are frames many times the size of
/// one socket read.
struct Big;
impl Workflow for Big {
    type Event = BigRequested;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("big")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let bytes = ctx.event.data.bytes;
        let text: String = ctx
            .step
            .run("make", async move {
                Ok((0..bytes)
                    .map(|i| char::from(b'a' + (i % 26) as u8))
                    .collect::<String>())
            })
            .await?;
        let (len, sum) = ctx
            .step
            .run("read", async {
                Ok((text.len(), text.bytes().map(u64::from).sum::<u64>()))
            })
            .await?;
        Ok(json!({ "len": len, "sum": sum }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_far_larger_than_one_read_cross_the_socket_whole() {
    let server = server(false).await;
    let app = App::builder(Inngest::with_config("cx", Config::dev(server.url())))
        .register(Big)
        .build()
        .expect("the app builds");
    let (stop, task) = spawn_worker(Worker::new(app).instance_id("big"));
    workers(&server, 1).await;
    // 20x the socket's read buffer, and above tungstenite's default one of 128 KiB too.
    let bytes = 20 * READ_BUFFER;
    let ids = server
        .send(vec![
            json!({ "name": BigRequested::NAME, "data": { "bytes": bytes } }),
        ])
        .await
        .expect("sent");
    let run = server
        .finished_run(&ids[0], "cx-big", Duration::from_secs(20))
        .await
        .expect("the server runs")
        .expect("the run finished");
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.status);
    let sum: u64 = (0..bytes).map(|i| u64::from(b'a' + (i % 26) as u8)).sum();
    assert_eq!(run.output, Some(json!({ "len": bytes, "sum": sum })));
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the worker stops")
        .expect("no panic")
        .expect("stopped cleanly");
    server.stop().await;
}

/// A server that stops lets its workers go: `GATEWAY_CLOSING`, then the socket closes. A
/// session left open would answer the worker's heartbeats for a server that no longer runs
/// anything, and the worker would never look for the one that comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_tells_its_workers_to_go_and_closes_their_sockets() {
    let server = server(false).await;
    let (mut hand, _) = HandWorker::connect(&server, "cx", "hand").await;
    workers(&server, 1).await;
    server.stop().await;
    let said = hand
        .next_within(Duration::from_secs(5))
        .await
        .map(|m| m.kind());
    assert_eq!(said, Some(GatewayMessageType::GatewayClosing));
    assert!(
        hand.closed_within(Duration::from_secs(5)).await,
        "the socket of a stopped server stayed open"
    );
}
