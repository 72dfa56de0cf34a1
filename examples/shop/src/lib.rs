//! shop: an example app with five Inngest workflows, run two ways:
//!
//! - `shop` (`src/main.rs`): an axum server that serves the workflows at `/api/inngest` (serve
//!   mode: Inngest calls it over HTTP), and `POST /users`, which creates an account and starts
//!   `welcome-user`;
//! - `shop-worker` (`src/bin/shop-worker.rs`): a connect worker that runs the same workflows
//!   over an outbound WebSocket (connect mode: no public endpoint needed).
//!
//! `cargo inngest dev` runs either against a dev server (`--bin shop-worker` for the worker).
//! In production set `INNGEST_SIGNING_KEY` and `INNGEST_EVENT_KEY`. Settings come from the
//! environment and from `.env`, if there is one.

pub mod events;
pub mod inngest;
pub mod mailer;
pub mod users;
pub mod workflows;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Reads `.env` (optional; variables set in the environment win over it) and sends logs to
/// stderr. `RUST_LOG` chooses what (`RUST_LOG=debug`, `RUST_LOG=shop=debug`); what a workflow
/// logs carries its run: `run{run_id=… function_id=… attempt=0}:step{step=…}`.
pub fn init() {
    let dotenv = dotenvy::dotenv();
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
}

/// Exits as a failed `main` should: the message and its causes, one after the other, rather
/// than a `Debug` dump.
pub fn exit_code(result: Result<(), Box<dyn std::error::Error>>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", inngest_runtime::error::chain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}
