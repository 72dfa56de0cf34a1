//! What several test files of this crate share (each uses a part of it).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// A stand-in for Inngest's `POST /fn/register` (the runtime cannot depend on the dev server,
/// which depends on it) that records the URLs apps register: its URL, those URLs, and the
/// serving task, which the test aborts.
pub async fn register_api() -> (String, Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let urls = seen.clone();
    let router = axum::Router::new().route(
        "/fn/register",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let urls = urls.clone();
            async move {
                let url = body["url"].as_str().unwrap_or_default().to_string();
                urls.lock().expect("not poisoned").push(url);
                axum::Json(json!({ "ok": true, "modified": true }))
            }
        }),
    );
    let (addr, task) = serve(router).await;
    (format!("http://{addr}"), seen, task)
}

/// Serves `router` on a loopback listener bound here (port 0): its address and the serving
/// task, which the test aborts.
pub async fn serve(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound").to_string();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serving");
    });
    (addr, task)
}
