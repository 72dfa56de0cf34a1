//! The serve-mode benchmark's Rust app (see `bench/serve/run.py`): `welcome-user` from the
//! conformance contract plus `hundred-steps`, a run of 100 `step.run`s, served on
//! `127.0.0.1:$PORT/api/inngest` (`PORT=0`: a free port, printed as `listening on <address>`) exactly as `bench/serve/app.mjs` serves them with the
//! official JS SDK. `POST /floor` is a bare axum route, the floor the benchmark reports;
//! `POST /floor-json` is the same route reading the body's JSON once (serde_json, building
//! nothing), the least any serde_json-based SDK pays for a request.

use inngest_runtime::{Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions, serve};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `bench/hundred.requested`.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct HundredRequested {}
impl Event for HundredRequested {
    const NAME: &'static str = "bench/hundred.requested";
}

/// 100 sequential steps, `step-0` to `step-99`, each returning its index.
struct HundredSteps;
impl Workflow for HundredSteps {
    type Event = HundredRequested;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("hundred-steps")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let mut sum = 0u64;
        for i in 0..100u64 {
            sum += ctx
                .step
                .run(&format!("step-{i}"), async move { Ok(i) })
                .await?;
        }
        Ok(json!({ "steps": 100, "sum": sum }))
    }
}

/// The benchmark's floor: a bare axum POST route that takes the same body and answers a fixed
/// JSON value, so the table can show how much of a request is HTTP on loopback.
async fn floor(_body: axum::body::Bytes) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        r#"{"emailsSent":2}"#,
    )
}

/// The floor plus one pass of serde_json over the body: validates it and builds nothing. A body
/// that is not JSON gets a 400.
async fn floor_json(body: axum::body::Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
        Ok(_) => floor(body).await.into_response(),
        Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT").map_or(Ok(3939), |p| p.parse())?;
    let app = inngest_runtime::App::builder(Inngest::new(conformance_app::APP_ID))
        .register(conformance_app::WelcomeUser)
        .register(HundredSteps)
        .build()?;
    let router = axum::Router::new()
        .route("/api/inngest", serve::axum::endpoint(app))
        .route("/floor", axum::routing::post(floor))
        .route("/floor-json", axum::routing::post(floor_json));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // PORT=0 binds a free port; the line says which.
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
