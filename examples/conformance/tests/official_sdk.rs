//! The corpus checked against the official JS SDK it was recorded from: the project's contract
//! app (`tests/conformance/js/`, pinned `inngest` 4.24.0, installed by `.ci/js-sdk.sh`) answers
//! every recorded request as the recordings say, in dev mode and in cloud mode (signed
//! requests re-signed at the current time), checkpointing included.
//!
//! This is what `conformance-kit check` runs; it keeps the recordings and the contract app
//! honest, and shows what changes when the pinned SDK is moved.

use conformance_app::kit::Corpus;
use conformance_app::kit::official::OfficialApps;

#[tokio::test]
async fn the_official_sdk_still_answers_as_recorded() {
    let dir = std::env::var_os("INNGEST_JS_APP_DIR").map(std::path::PathBuf::from).expect(
        "INNGEST_JS_APP_DIR names the installed JS app: run `bash .ci/js-sdk.sh` (the README's test command does)",
    );
    let corpus = Corpus::workspace();
    let apps = OfficialApps::start(&dir).await.expect("the JS apps start");
    let mut passed = 0;
    let mut failures = Vec::new();
    let scenarios = corpus.replayable().expect("the corpus reads");
    for scenario in &scenarios {
        for (_, checked) in apps
            .check(&corpus, scenario)
            .await
            .expect("the app answers")
        {
            match checked.failure() {
                None => passed += 1,
                Some(f) => failures.push(f),
            }
        }
    }
    apps.stop().await;
    println!("{passed} passed, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(scenarios.len(), 21, "every scenario but connect's");
    assert_eq!(passed, 64, "every exchange, checkpoint runs included");
}
