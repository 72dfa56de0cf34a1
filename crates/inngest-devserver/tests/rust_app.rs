//! End to end in Rust: the dev server drives the conformance example app (`inngest-runtime`)
//! through the same scenarios as the official JS app, in classic and checkpoint mode, and the
//! requests it sends match those recorded against the official SDK.

mod support;

use support::{RustApp, drive};

async fn drive_rust_app(checkpointing: bool, suffix: &str) {
    drive::drive_app(checkpointing, suffix, async |server, origin| {
        RustApp::start(server, origin).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_rust_app_in_classic_mode() {
    drive_rust_app(false, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_rust_app_in_checkpoint_mode() {
    drive_rust_app(true, "-checkpoint").await;
}
