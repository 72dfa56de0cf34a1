//! Serves the conformance contract on `127.0.0.1:$PORT/api/inngest` (default port 3939),
//! configured by the `INNGEST_*` environment variables.
//!
//! `--demo` serves on a free port, walks one `welcome-user` run over HTTP the way an Inngest
//! executor does (memoizing each step's result and calling again), prints each exchange, and
//! exits.

use inngest_runtime::{Inngest, serve};
use serde_json::{Map, Value, json};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let demo = std::env::args().any(|a| a == "--demo");
    let port: u16 = match std::env::var("PORT") {
        Ok(p) if !demo => p
            .parse()
            .map_err(|e| format!("PORT={p:?} is not a port: {e}"))?,
        _ if demo => 0,
        _ => 3939,
    };
    let app = conformance_app::app(Inngest::new(conformance_app::APP_ID))?;
    let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint(app));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}/api/inngest", listener.local_addr()?);
    tracing::info!("serving probe-app on {url}");
    if !demo {
        axum::serve(listener, router).await?;
        return Ok(());
    }
    tokio::spawn(async move { axum::serve(listener, router).await });
    walk_welcome_user(&url).await
}

/// Plays the executor for one run of `welcome-user`.
async fn walk_welcome_user(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let http = reqwest::Client::new();
    let intro: Value = http.get(url).send().await?.json().await?;
    println!("GET {url}\n  -> {intro}");
    let event = json!({
        "name": "user/user.created",
        "data": { "email": "ada@example.com", "userId": "u_1" },
        "id": "01DEMOEVENT0000000000000001",
        "ts": 1767225600000u64,
    });
    let mut steps = Map::new();
    for call in 1..=10 {
        let body = json!({
            "event": event, "events": [event], "steps": steps,
            "ctx": { "run_id": "01DEMORUN00000000000000001", "attempt": 0, "max_attempts": 5,
                     "disable_immediate_execution": false, "use_api": false,
                     "stack": { "stack": steps.keys().collect::<Vec<_>>(), "current": steps.len() } },
            "version": -1, "use_api": false,
        });
        let resp = http
            .post(format!("{url}?fnId=probe-app-welcome-user&stepId=step"))
            .json(&body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await?;
        println!(
            "POST #{call} (memo: {} steps)\n  -> {status} {answer}",
            steps.len()
        );
        match status {
            200 => {
                println!("run completed with output {answer}");
                return Ok(());
            }
            206 => {
                for op in answer.as_array().into_iter().flatten() {
                    let id = op["id"].as_str().unwrap_or_default().to_string();
                    // What the server stores: a step's output as {data}; a sleep, once elapsed, as null.
                    let memo = match op["op"].as_str() {
                        Some("StepRun") => json!({ "data": op["data"] }),
                        Some("Sleep") => Value::Null,
                        other => return Err(format!("the demo does not drive {other:?}").into()),
                    };
                    steps.insert(id, memo);
                }
            }
            _ => return Err(format!("unexpected answer {status}: {answer}").into()),
        }
    }
    Err("the run did not complete in 10 calls".into())
}
