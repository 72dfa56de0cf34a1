//! `cargo inngest dev-server` serves the official JS app as `npx inngest-cli dev -u …` would:
//! it syncs the app from `-u`, takes events, runs them, moves time on request, and exits
//! cleanly on SIGTERM. A port that is taken is refused, saying the OS error once.

use std::process::Command;

use common::{eventually, get};
use serde_json::{Value, json};

mod common;

#[tokio::test]
async fn serves_the_official_js_app_from_the_command_line() {
    let common::JsAppOnServer {
        base,
        mut server,
        app: _app,
    } = common::JsAppOnServer::start().await;
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

#[test]
fn a_taken_port_is_refused_saying_the_os_error_once() {
    let (taken, port, os_error) = common::taken_port();
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .args(["inngest", "dev-server", "--port", &port.to_string()])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert_eq!(
        err.matches(&os_error).count(),
        1,
        "{os_error:?} once in:\n{err}"
    );
    drop(taken);
}
