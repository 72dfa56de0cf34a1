//! shop in connect mode: the same workflows as `shop`, run by a connect worker that dials
//! Inngest over an outbound WebSocket, so the app needs no public HTTP endpoint. Ctrl-C or
//! SIGTERM pauses it (no new work reaches it), lets its in-flight steps finish, then closes.

use std::process::ExitCode;

use inngest_runtime::connect::Worker;
use shop::{inngest, mailer};

#[tokio::main]
async fn main() -> ExitCode {
    shop::init();
    shop::exit_code(work().await)
}

async fn work() -> Result<(), Box<dyn std::error::Error>> {
    let app = inngest::app(inngest::client(), &mailer::Mailer::default())?;
    let worker = Worker::new(app);
    // The worker's state (connecting, active, paused, reconnecting, closed), logged as it
    // changes; a health check could read it the same way.
    let mut state = worker.state();
    tokio::spawn(async move {
        while state.changed().await.is_ok() {
            tracing::info!(state = ?*state.borrow(), "connect worker");
        }
    });
    println!("running shop's Inngest workflows as a connect worker (Ctrl-C stops)");
    worker.run_until(shutdown_signal()).await?;
    // Said once the worker has paused, finished what was in flight, and closed.
    println!("the connect worker stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
