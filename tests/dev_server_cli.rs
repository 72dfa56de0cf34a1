//! `cargo inngest dev-server` serves the official JS app as `npx inngest-cli dev -u …` would:
//! it syncs the app from `-u`, takes events, runs them, moves time on request, and exits
//! cleanly on SIGTERM.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::free_port;
use serde_json::{Value, json};

mod common;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(url: &str) -> Option<Value> {
    reqwest::get(url).await.ok()?.json().await.ok()
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn serves_the_official_js_app_from_the_command_line() {
    let js_dir = std::env::var("INNGEST_JS_APP_DIR")
        .unwrap_or_else(|_| "/var/tmp/cargo-inngest-js-sdk".into());
    assert!(
        std::path::Path::new(&js_dir)
            .join("node_modules/inngest")
            .exists(),
        "the official JS SDK is not installed in {js_dir}: run `bash .ci/js-sdk.sh`"
    );
    let (server_port, app_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{server_port}");
    let app_url = format!("http://127.0.0.1:{app_port}/api/inngest");
    let server = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .args([
            "inngest",
            "dev-server",
            "--port",
            &server_port.to_string(),
            "-u",
            &app_url,
        ])
        .args(["--poll-interval", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut server = Killed(server);
    let _app = Killed(
        Command::new("node")
            .arg("app.mjs")
            .current_dir(&js_dir)
            .env("INNGEST_DEV", &base)
            .env("APP_PORT", app_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts"),
    );

    let functions = eventually("the app to sync", async || {
        let apps = get(&format!("{base}/v1/apps")).await?;
        let f = apps["data"][0]["functions"].as_array()?.len();
        (f > 0).then_some(f)
    })
    .await;
    assert_eq!(
        functions, 13,
        "12 functions and welcome-user's failure handler"
    );

    let http = reqwest::Client::new();
    let sent: Value = http
        .post(format!("{base}/e/any-key"))
        .json(&json!({ "name": "user/user.created", "data": { "email": "ada@example.com", "userId": "u_1" } }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let event_id = sent["ids"][0].as_str().expect("an id").to_string();
    let run_id = eventually("the run to sleep", async || {
        let runs = get(&format!("{base}/v1/events/{event_id}/runs")).await?;
        let run = runs["data"].as_array()?.first()?.clone();
        let sleeping = run["steps"].as_array()?.iter().any(|s| s["op"] == "Sleep");
        sleeping.then(|| run["run_id"].as_str().map(str::to_string))?
    })
    .await;
    let advanced = http
        .post(format!("{base}/dev/time/advance"))
        .json(&json!({ "duration": "3d" }))
        .send()
        .await
        .expect("advanced");
    assert_eq!(advanced.status().as_u16(), 200);
    let output = eventually("the run to complete", async || {
        let run = get(&format!("{base}/v1/runs/{run_id}")).await?;
        (run["data"]["status"] == "Completed").then(|| run["data"]["output"].clone())
    })
    .await;
    assert_eq!(output, json!({ "emailsSent": 2 }));

    let pid = server.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = eventually("the server to exit", async || {
        server.0.try_wait().ok().flatten()
    })
    .await;
    assert!(status.success(), "exit status {status:?}");
}
