//! The serve-mode benchmark's Rust app (see `bench/serve/run.py`): `welcome-user` from the
//! conformance contract plus `hundred-steps`, a run of 100 `step.run`s, served on
//! `127.0.0.1:$PORT/api/inngest` (`PORT=0`: a free port, printed as
//! `listening on <address>`) exactly as `bench/serve/app.mjs` serves them with the official
//! JS SDK.
//! `POST /floor` is a bare axum route, the floor the benchmark reports; `POST /floor-json` is
//! the same route reading the body's JSON once (serde_json, building nothing), the least any
//! serde_json-based SDK pays for a request; `POST /floor-min` does, by hand, the least a
//! serde-based SDK must do for `welcome-user`'s final request (see [`floor_min`]).

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

/// The least any serde-based SDK does for `welcome-user`'s final request, written straight for
/// this one function: one serde_json pass over the body into borrowed views (the event, the
/// memo, the run's id and attempt), the event decoded into its type and validated, each of the
/// three step ids hashed (SHA-1, hex) and looked up in the memo, the two memoized results
/// decoded into their types, the output serialized, and the answer's SDK headers. No function
/// lookup, no futures per step, no general op machinery: the benchmark's bound on what a
/// handler of this request can cost, against which the runtime's own work is measured.
async fn floor_min(body: axum::body::Bytes) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    use serde_json::value::RawValue;
    use sha1::Digest as _;

    #[derive(Deserialize)]
    struct Request<'a> {
        #[serde(borrow)]
        event: &'a RawValue,
        #[serde(borrow)]
        steps: std::collections::HashMap<&'a str, Option<&'a RawValue>>,
        #[serde(borrow)]
        ctx: RunCtx<'a>,
    }
    #[derive(Deserialize)]
    struct RunCtx<'a> {
        #[serde(borrow)]
        run_id: &'a str,
        attempt: u32,
    }
    #[derive(Deserialize)]
    struct TypedEvent {
        name: String,
        data: conformance_app::UserCreated,
        id: String,
        ts: i64,
    }
    #[derive(Deserialize)]
    struct Memo<T> {
        data: T,
    }
    fn bad(why: String) -> axum::response::Response {
        (StatusCode::BAD_REQUEST, why).into_response()
    }
    fn hashed(id: &str) -> [u8; 40] {
        let mut hex = [0u8; 40];
        let digest = sha1::Sha1::digest(id.as_bytes());
        // Infallible: 40 bytes for 20.
        let _ = hex::encode_to_slice(digest, &mut hex);
        hex
    }
    fn memo<'a>(req: &Request<'a>, id: &str) -> Option<&'a RawValue> {
        let key = hashed(id);
        let key = std::str::from_utf8(&key).ok()?;
        req.steps.get(key).copied().flatten()
    }

    let req: Request<'_> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(e.to_string()),
    };
    let event: TypedEvent = match serde_json::from_str(req.event.get()) {
        Ok(e) => e,
        Err(e) => return bad(e.to_string()),
    };
    if let Err(e) = garde::Validate::validate(&event.data) {
        return bad(e.to_string());
    }
    let Some(first) = memo(&req, "send-welcome-email") else {
        return bad("not the final request".into());
    };
    let first: Memo<conformance_app::WelcomeSent> = match serde_json::from_str(first.get()) {
        Ok(m) => m,
        Err(e) => return bad(e.to_string()),
    };
    // The sleep's memo is `null`: only its presence is read.
    if !req
        .steps
        .contains_key(std::str::from_utf8(&hashed("wait-3-days")).unwrap_or_default())
    {
        return bad("not the final request".into());
    }
    let Some(second) = memo(&req, "send-followup-email") else {
        return bad("not the final request".into());
    };
    let second: Memo<conformance_app::FollowupSent> = match serde_json::from_str(second.get()) {
        Ok(m) => m,
        Err(e) => return bad(e.to_string()),
    };
    std::hint::black_box((
        &req.ctx.run_id,
        req.ctx.attempt,
        &event.name,
        &event.id,
        event.ts,
    ));
    std::hint::black_box((&first.data.to, &second.data.to, second.data.prev));
    let output = match serde_json::to_vec(&conformance_app::WelcomeOutput { emails_sent: 2 }) {
        Ok(o) => o,
        Err(e) => return bad(e.to_string()),
    };
    let mut answer = output.into_response();
    let headers = answer.headers_mut();
    let sdk = HeaderValue::from_static("inngest-runtime:v0.1.0");
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::USER_AGENT, sdk.clone());
    headers.insert("x-inngest-sdk", sdk);
    headers.insert("x-inngest-sdk-handled", HeaderValue::from_static("true"));
    headers.insert("x-inngest-framework", HeaderValue::from_static("axum"));
    headers.insert("x-inngest-req-version", HeaderValue::from_static("2"));
    headers.insert(
        "x-inngest-expected-server-kind",
        HeaderValue::from_static("dev"),
    );
    answer
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
        .route("/floor-json", axum::routing::post(floor_json))
        .route("/floor-min", axum::routing::post(floor_min));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // PORT=0 binds a free port; the line says which.
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
