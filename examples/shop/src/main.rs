//! shop in serve mode: an axum server that serves its Inngest workflows at `/api/inngest`, and
//! `POST /users`, which creates an account and starts `welcome-user`. See the crate's docs for
//! the connect worker (`shop-worker`).

use std::process::ExitCode;

use shop::{inngest, mailer, users};

#[tokio::main]
async fn main() -> ExitCode {
    shop::init();
    shop::exit_code(serve().await)
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
