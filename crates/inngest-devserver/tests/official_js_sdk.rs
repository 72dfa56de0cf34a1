//! The dev server drives the official JS SDK app (`app.mjs` of the conformance corpus, with the
//! versions pinned there) through every scenario of `scenarios.json`, in classic and in
//! checkpoint mode. Each run must reach the outcome in `manifest.json`, and the requests our
//! server sent (seen by a recording proxy) must match the recorded ones, ignoring ids,
//! timestamps, `stack.current` and `max_attempts` (the recordings' executor used 4 where the
//! real server's default is 5 attempts).

mod support;

use support::{JsApp, drive};

async fn drive_official_app(checkpointing: bool, suffix: &str, env: &[(&str, &str)]) {
    drive::drive_app(checkpointing, suffix, async |server, origin| {
        JsApp::start_with(server, origin, env)
    })
    .await;
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
