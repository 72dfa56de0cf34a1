//! shop: an axum server that serves its Inngest workflows at `/api/inngest`, and `POST /users`,
//! which creates an account and starts `welcome-user`.
//!
//! `cargo inngest dev` runs it against a dev server; in production set `INNGEST_SIGNING_KEY`
//! and `INNGEST_EVENT_KEY`. Settings come from the environment and from `.env`, if there is one.

mod events;
mod inngest;
mod mailer;
mod users;
mod workflows;

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // `.env` (see `.env.example`) is optional; variables set in the environment win over it.
    let dotenv = dotenvy::dotenv();
    // Logs go to stderr; `RUST_LOG` chooses what (`RUST_LOG=debug`, `RUST_LOG=shop=debug`).
    // What a workflow logs carries its run: `run{run_id=… function_id=… attempt=0}:step{step=…}`.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Err(e) = dotenv {
        if !e.not_found() {
            tracing::warn!(".env was not read: {e}");
        }
    }
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes, one after the other, rather than a `Debug` dump.
            eprintln!("error: {}", inngest_runtime::error::chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let client = inngest::client();
    let mailer = mailer::Mailer::default();
    let app = inngest::app(client.clone(), &mailer)?;
    let router = axum::Router::new()
        .route("/api/inngest", inngest_runtime::serve::axum::endpoint(app))
        .route(
            "/users",
            axum::routing::post(users::create).with_state(client),
        );
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse()?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "serving Inngest workflows on http://{}/api/inngest",
        listener.local_addr()?
    );
    axum::serve(listener, router).await?;
    Ok(())
}
