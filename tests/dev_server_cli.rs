//! `cargo inngest dev-server` serves the official JS app as `npx inngest-cli dev -u …` would:
//! it syncs the app from `-u`, takes events, runs them, moves time on request, and exits
//! cleanly on SIGTERM. A port that is taken is refused, saying the OS error once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Lines, url_after};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

mod common;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Forwards every connection `front` accepts to `to`, both ways.
fn forward(front: TcpListener, to: std::net::SocketAddr) {
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = front.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
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
    let js_dir = std::env::var("INNGEST_JS_APP_DIR").expect(
        "INNGEST_JS_APP_DIR names the installed JS app: `export INNGEST_JS_APP_DIR=$(bash .ci/js-sdk.sh)` (the README's test command does)",
    );
    assert!(
        std::path::Path::new(&js_dir)
            .join("node_modules/inngest")
            .exists(),
        "the official JS SDK is not installed in {js_dir}: run `bash .ci/js-sdk.sh`"
    );
    // The server and the app each bind port 0 and print where they listen. The app needs the
    // server's URL and the server the app's (`-u`), so the app's URL is a listener this test
    // holds, which forwards to wherever the app listens once it says.
    let app_front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let app_url = format!(
        "http://{}/api/inngest",
        app_front.local_addr().expect("an address")
    );
    let mut server = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .args(["inngest", "dev-server", "--port", "0", "-u", &app_url])
        .args(["--poll-interval", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let server_lines = Lines::of(&mut server);
    let mut server = Killed(server);
    let line = server_lines.wait_for(0, "inngest dev server on ", 60);
    let base = url_after(&line, "inngest dev server on ");
    let mut app = Command::new("node")
        .arg("app.mjs")
        .current_dir(&js_dir)
        .env("INNGEST_DEV", &base)
        .env("APP_PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let app_lines = Lines::of(&mut app);
    let _app = Killed(app);
    let line = app_lines.wait_for(0, "listening on ", 60);
    let app_addr: std::net::SocketAddr = line
        .rsplit("listening on ")
        .next()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    forward(app_front, app_addr);

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
