//! Serves the conformance contract on `127.0.0.1:$PORT/api/inngest` (default port 3939),
//! configured by the `INNGEST_*` environment variables.
//!
//! `--demo` serves on a free port, starts the embedded dev server (`inngest-devserver`), sends a
//! `user/user.created` event, prints each step of the `welcome-user` run as the server records
//! it (moving the server's clock past the 3-day sleep), and exits once the run has completed.

use inngest_runtime::config::Config;
use inngest_runtime::{Inngest, serve};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = std::env::args().any(|a| a == "--demo");
    let default_filter = if demo { "warn" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .init();
    if demo {
        return demo_run().await;
    }
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|e| format!("PORT={p:?} is not a port: {e}"))?,
        Err(_) => 3939,
    };
    let app = conformance_app::app(Inngest::new(conformance_app::APP_ID))?;
    let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint(app));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(
        "serving probe-app on http://{}/api/inngest",
        listener.local_addr()?
    );
    axum::serve(listener, router).await?;
    Ok(())
}

/// Runs `welcome-user` under the embedded dev server: sync, send the event, print each step as
/// the server records it, move the clock past the 3-day sleep, print the outcome.
async fn demo_run() -> Result<(), Box<dyn std::error::Error>> {
    use inngest_devserver::{DevServer, DevServerConfig, RunStatus};
    use std::time::Duration;

    let server = DevServer::start(DevServerConfig {
        port: 0,
        ..DevServerConfig::default()
    })
    .await?;
    println!("dev server (inngest-devserver) on {}", server.url());
    // The app talks to this dev server, as INNGEST_DEV=<url> would make it.
    let client = Inngest::with_config(conformance_app::APP_ID, Config::dev(server.url()));
    let app = conformance_app::app(client)?;
    let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint(app));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/api/inngest", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("app probe-app serving on {url}");
    server.sync_app(&url).await?;
    for app in server.engine().apps().await? {
        println!("synced app {:?} from {}:", app.id, app.url);
        for f in &app.functions {
            println!("  {:<36} {}", f.id, f.triggers.join(", "));
        }
    }
    let mut finished = server.engine().subscribe_finished();
    let event = json!({
        "name": "user/user.created",
        "data": { "email": "ada@example.com", "userId": "u_1" },
    });
    let ids = server.send(vec![event]).await?;
    println!("sent user/user.created, event id {}", ids[0]);
    let run = loop {
        if let Some(run) = server.engine().event_runs(ids[0].clone()).await?.pop() {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    println!("run {} of {} started", run.run_id, run.function_id);
    let mut shown = 0;
    let mut advanced = false;
    let done = loop {
        let now = server.run(&run.run_id).await?.ok_or("the run vanished")?;
        for step in &now.steps[shown..] {
            println!("  step {:<22} {}", step.name, step.op);
        }
        shown = now.steps.len();
        if now.status != RunStatus::Running {
            break now;
        }
        if !advanced && now.steps.iter().any(|s| s.op == "Sleep") {
            println!("  (moving the dev server's clock forward 3 days)");
            server.advance(Duration::from_secs(3 * 86_400)).await?;
            advanced = true;
        }
        // Wake on the next finished run, or look again shortly.
        let _ = tokio::time::timeout(Duration::from_millis(20), finished.recv()).await;
    };
    println!(
        "run {} {:?} with output {}",
        done.run_id,
        done.status,
        done.output.unwrap_or(Value::Null)
    );
    server.stop().await;
    if done.status == RunStatus::Completed {
        Ok(())
    } else {
        Err("the run did not complete".into())
    }
}
