//! The dev server drives an app on the official Inngest Python SDK (`tests/python/app.py`,
//! Flask): steps, a sleep the SDK names with an ISO timestamp, a wait with an `if` expression,
//! a retried step error and a final error sent as 500 with `x-inngest-no-retry: true`.

mod support;

use std::process::{Child, Command};
use std::time::Duration;

use inngest_devserver::{DevServer, DevServerConfig, RunStatus, RunView};
use serde_json::json;

struct PythonApp(Child);

impl Drop for PythonApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn run_of(server: &DevServer, event_id: &str) -> RunView {
    for _ in 0..500 {
        if let Some(r) = server
            .engine()
            .event_runs(event_id.into())
            .await
            .expect("running")
            .pop()
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no run for {event_id}");
}

async fn until_step(server: &DevServer, run_id: &str, op: &str) {
    for _ in 0..500 {
        let run = server.run(run_id).await.expect("running").expect("exists");
        if run.steps.iter().any(|s| s.op == op) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run_id} never reported {op}");
}

async fn finished(server: &DevServer, run: &RunView, advance: Option<Duration>) -> RunView {
    for _ in 0..60 {
        if let Some(done) = support::finished(server, run, 250).await {
            return done;
        }
        if let Some(by) = advance {
            server.advance(by).await.expect("running");
        }
    }
    panic!("run {} never finished", run.run_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_official_python_sdk() {
    let checked = Command::new("python3")
        .args(["-c", "import inngest, flask"])
        .status()
        .expect("python3 runs");
    assert!(
        checked.success(),
        "the Python SDK is not installed: pip install inngest==0.5.19 flask (.ci/run does)"
    );
    let server = DevServer::start(DevServerConfig {
        port: 0,
        ..DevServerConfig::default()
    })
    .await
    .expect("starts");
    let mut command = Command::new("python3");
    command
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/app.py"))
        .env("INNGEST_DEV", server.url())
        .env("PORT", "0");
    let (child, port) = support::spawn_listening(command, "the Python app");
    let _app = PythonApp(child);
    support::sync_when_up(&server, &format!("http://127.0.0.1:{port}/api/inngest")).await;
    let apps = server.engine().apps().await.expect("running");
    let ids: Vec<&str> = apps[0].functions.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        ["py-app-doomed", "py-app-flaky", "py-app-greet"],
        "a snake_case sync"
    );

    // Steps, an ISO-timestamp sleep, and a wait matched by its `if`.
    let ids = server
        .send(vec![json!({ "name": "py/greet", "data": { "id": "ada" } })])
        .await
        .expect("sent");
    let run = run_of(&server, &ids[0]).await;
    until_step(&server, &run.run_id, "Sleep").await;
    server
        .advance(Duration::from_secs(11))
        .await
        .expect("running");
    until_step(&server, &run.run_id, "WaitForEvent").await;
    server
        .send(vec![
            json!({ "name": "py/go", "data": { "id": "bob", "n": 1 } }),
            json!({ "name": "py/go", "data": { "id": "ada", "n": 2 } }),
        ])
        .await
        .expect("sent");
    let done = finished(&server, &run, None).await;
    assert_eq!(done.status, RunStatus::Completed, "{done:?}");
    assert_eq!(done.output, Some(json!({ "first": "hello ada", "go": 2 })));

    // A step error is retried (the SDK sends no x-inngest-no-retry on it).
    let ids = server
        .send(vec![json!({ "name": "py/flaky", "data": {} })])
        .await
        .expect("sent");
    let run = run_of(&server, &ids[0]).await;
    let done = finished(&server, &run, Some(Duration::from_secs(60))).await;
    assert_eq!(done.status, RunStatus::Completed, "{done:?}");
    assert_eq!(done.output, Some(json!("ok on attempt 1")));

    // A final error comes as 500 with x-inngest-no-retry: true, and is final.
    let ids = server
        .send(vec![json!({ "name": "py/doomed", "data": {} })])
        .await
        .expect("sent");
    let run = run_of(&server, &ids[0]).await;
    let done = finished(&server, &run, None).await;
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    assert_eq!(
        done.output.as_ref().map(|o| o["message"].clone()),
        Some(json!("no way"))
    );
    server.stop().await;
}
