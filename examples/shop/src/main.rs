//! shop: an axum server that serves its Inngest workflows at `/api/inngest`.
//!
//! `cargo inngest dev` runs it against a dev server; in production set `INNGEST_SIGNING_KEY`.

mod events;
mod inngest;
mod workflows;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes, one after the other, rather than a `Debug` dump.
            eprintln!("error: {}", inngest_runtime::error::chain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let app = inngest::app(inngest::client())?;
    let router =
        axum::Router::new().route("/api/inngest", inngest_runtime::serve::axum::endpoint(app));
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
