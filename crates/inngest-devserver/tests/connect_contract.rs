//! Connect workers against our gateway, found with nothing but the dev server's URL: the
//! official JS SDK's (`inngest/connect`, the pinned `inngest` on Node) and ours (the
//! conformance app served by `inngest_runtime::connect::Worker`). Every scenario the HTTP
//! drive runs (events, wait-for-event feeds, cron ticks, invoke, failure handlers, retries)
//! reaches the outcome recorded from the official SDK in serve mode, in classic and in
//! checkpoint mode, and each worker closes gracefully.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inngest_devserver::{DevServer, DevServerConfig};
use serde_json::Value;

/// The JS worker, killed when dropped.
struct JsWorker(Child);

impl Drop for JsWorker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_js_worker(dev_server: &str) -> JsWorker {
    let dir = PathBuf::from(std::env::var("INNGEST_JS_APP_DIR").expect(
        "INNGEST_JS_APP_DIR names the installed JS app: `export INNGEST_JS_APP_DIR=$(bash .ci/js-sdk.sh)`",
    ));
    let mut child = Command::new("node")
        // Node 20 has the WebSocket the SDK needs behind a flag.
        .args(["--experimental-websocket", "connect.mjs"])
        .current_dir(&dir)
        .env("INNGEST_DEV", dev_server)
        .env("INNGEST_CONNECT_INSTANCE_ID", "js-worker")
        // The socket in the main thread: Node 20's worker threads do not get the flag's
        // WebSocket.
        .env("INNGEST_CONNECT_ISOLATE_EXECUTION", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("connected") => break,
            Ok(_) => {}
            Err(_) => panic!("the JS worker did not connect within 60 s"),
        }
    }
    JsWorker(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_js_connect_worker_runs_the_contract_through_our_gateway_checkpointing() {
    run_contract(true, Peer::Js).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_js_connect_worker_runs_the_contract_through_our_gateway_classic() {
    run_contract(false, Peer::Js).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_connect_worker_runs_the_contract_through_our_gateway_checkpointing() {
    run_contract(true, Peer::Rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_connect_worker_runs_the_contract_through_our_gateway_classic() {
    run_contract(false, Peer::Rust).await;
}

/// Which worker serves the contract.
#[derive(Clone, Copy)]
enum Peer {
    Js,
    Rust,
}

/// A running worker of either kind.
enum Running {
    Js(JsWorker),
    Rust(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), inngest_runtime::connect::ConnectError>>,
    ),
}

fn start_rust_worker(dev_server: &str) -> Running {
    let client = inngest_runtime::Inngest::with_config(
        conformance_app::APP_ID,
        inngest_runtime::config::Config::dev(dev_server),
    );
    let app = conformance_app::app(client).expect("the conformance app builds");
    let worker = inngest_runtime::connect::Worker::new(app).instance_id("rust-worker");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));
    Running::Rust(stop, task)
}

/// Waits until `instance` is connected for probe-app.
async fn connected(server: &DevServer, instance: &str) -> Value {
    for _ in 0..400 {
        let apps: Value = reqwest::get(format!("{}/v1/apps", server.url()))
            .await
            .expect("the API answers")
            .json()
            .await
            .expect("JSON");
        if let Some(app) = apps["data"].as_array().and_then(|a| {
            a.iter()
                .find(|a| a["id"] == "probe-app" && a["workers"][0]["instance_id"] == instance)
        }) {
            return app.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{instance} never connected");
}

async fn run_contract(checkpointing: bool, peer: Peer) {
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing,
        retry_interval: Some(Duration::from_secs(1)),
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let (running, instance) = match peer {
        Peer::Js => (Running::Js(start_js_worker(server.url())), "js-worker"),
        Peer::Rust => (start_rust_worker(server.url()), "rust-worker"),
    };
    let app = connected(&server, instance).await;
    assert_eq!(app["transport"], "connect", "{app}");
    // Every scenario of the contract, driven as over HTTP (events, feeds, cron ticks, the
    // clock), and each outcome compared with the recording.
    let suffix = if checkpointing { "-checkpoint" } else { "" };
    let (_, failures) = support::drive::run_all(&server, None, suffix).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Each closes gracefully: SIGTERM for the JS worker, its shutdown future for ours.
    match running {
        Running::Js(mut worker) => {
            let pid = worker.0.id().to_string();
            assert!(
                Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .expect("kill")
                    .success()
            );
            let status = tokio::task::spawn_blocking(move || worker.0.wait())
                .await
                .expect("joined")
                .expect("waited");
            assert!(status.success(), "the JS worker exited with {status}");
        }
        Running::Rust(stop, task) => {
            let _ = stop.send(());
            let result = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("our worker stops")
                .expect("no panic");
            assert!(result.is_ok());
        }
    }
    server.stop().await;
}
