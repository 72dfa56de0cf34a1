//! The dev server drives the official JS SDK app (`app.mjs` of the conformance corpus, with the
//! versions pinned there) through every scenario of `scenarios.json`, in classic and in
//! checkpoint mode. Each run must reach the outcome in `manifest.json`, and the requests our
//! server sent (seen by a recording proxy) must match the recorded ones, ignoring ids,
//! timestamps, `stack.current` and `max_attempts` (the recordings' executor used 4 where the
//! real server's default is 5 attempts).

mod support;

use inngest_devserver::{DevServer, DevServerConfig};
use support::{JsApp, Proxy, drive, sync_when_up};

async fn drive_official_app(checkpointing: bool, suffix: &str, env: &[(&str, &str)]) {
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    // The proxy's upstream is the app; the app registers the proxy's URL as its own.
    let app_port = support::free_port();
    let proxy = Proxy::start(app_port).await;
    let _app = JsApp::start_with(server.url(), &proxy.origin(), app_port, env);
    sync_when_up(&server, &format!("{}/api/inngest", proxy.origin())).await;
    let (compared, failures) = drive::run_all(&server, &proxy, suffix, true).await;
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        compared >= if suffix.is_empty() { 14 } else { 3 },
        "only {compared} request sequences compared"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_official_js_sdk_in_classic_mode() {
    drive_official_app(false, "", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_official_js_sdk_in_checkpoint_mode() {
    drive_official_app(true, "-checkpoint", &[]).await;
}

/// With `INNGEST_STREAMING=force` the SDK answers 201 with keep-alive whitespace and the real
/// answer wrapped as `{status, headers, body}`; the server unwraps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_official_js_sdk_when_it_streams() {
    drive_official_app(false, "", &[("INNGEST_STREAMING", "force")]).await;
}
