//! End to end in Rust: the dev server drives the conformance example app (`inngest-runtime`)
//! through the same scenarios as the official JS app, in classic and checkpoint mode, and the
//! requests it sends match those recorded against the official SDK.

mod support;

use inngest_devserver::{DevServer, DevServerConfig};
use support::{Proxy, RustApp, drive, sync_when_up};

async fn drive_rust_app(checkpointing: bool, suffix: &str) {
    let server = DevServer::start(DevServerConfig {
        port: 0,
        checkpointing,
        ..DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let app_port = support::free_port();
    let proxy = Proxy::start(app_port).await;
    let _app = RustApp::start(server.url(), &proxy.origin(), app_port).await;
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
async fn drives_the_rust_app_in_classic_mode() {
    drive_rust_app(false, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_rust_app_in_checkpoint_mode() {
    drive_rust_app(true, "-checkpoint").await;
}
