//! Replays the corpus against the official JS SDK (the contract app in `tests/conformance/js/`):
//! one app in dev mode for the dev scenarios, one in cloud mode (signing key, no dev server)
//! for `_cloud-signed`, both talking to one stand-in API.

use std::path::Path;

use super::corpus::{Corpus, Exchange};
use super::error::KitError;
use super::js_app::JsApp;
use super::replay::{Checked, Replayer};
use super::resign::Resign;
use super::stand_in::StandInApi;

/// The signing key `_cloud-signed` was recorded with (a test key, not a secret).
pub const RECORDED_SIGNING_KEY: &str =
    "signkey-test-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The time `_cloud-signed` was recorded at (its signatures' `t`).
pub const RECORDED_AT: i64 = 1_795_740_178;
/// A clock stopped at [`RECORDED_AT`], for replaying the signed recordings to our handler
/// (`ServeHandler::clock`).
pub fn recorded_clock() -> i64 {
    RECORDED_AT
}
/// The scenario recorded against an API whose checkpoint endpoint answers 404.
pub const CHECKPOINT_404: &str = "welcome-user-checkpoint-api-404";
/// The signed scenario, replayed to the app in cloud mode.
pub const CLOUD_SIGNED: &str = "_cloud-signed";

/// The official JS apps and the stand-in API they call.
pub struct OfficialApps {
    api: StandInApi,
    dev: JsApp,
    cloud: JsApp,
}

impl OfficialApps {
    /// Starts both apps from `dir` (an installed copy of `tests/conformance/js/`).
    pub async fn start(dir: &Path) -> Result<Self, KitError> {
        let api = StandInApi::start().await.map_err(KitError::Listen)?;
        let origin = api.origin().to_string();
        let dev = JsApp::start(dir, &[("INNGEST_DEV", origin.as_str())]).await?;
        let cloud = JsApp::start(
            dir,
            &[
                ("INNGEST_SIGNING_KEY", RECORDED_SIGNING_KEY),
                ("INNGEST_BASE_URL", origin.as_str()),
            ],
        )
        .await?;
        Ok(Self { api, dev, cloud })
    }

    /// Replays one scenario and compares every answer with the recording.
    pub async fn check(
        &self,
        corpus: &Corpus,
        scenario: &str,
    ) -> Result<Vec<(Exchange, Checked)>, KitError> {
        let replayer = if scenario == CLOUD_SIGNED {
            let now = unix_now();
            Replayer::new(self.cloud.origin()).resign(Resign {
                key: RECORDED_SIGNING_KEY.into(),
                shift: now.saturating_sub(RECORDED_AT),
            })
        } else {
            Replayer::new(self.dev.origin())
        };
        self.api
            .set_checkpoint_status(if scenario == CHECKPOINT_404 { 404 } else { 200 });
        let mut out = Vec::new();
        for ex in corpus.exchanges(scenario)? {
            let checked = replayer.check(corpus, &ex, &self.api).await?;
            out.push((ex, checked));
        }
        self.api.set_checkpoint_status(200);
        Ok(out)
    }

    /// The stand-in API's origin.
    pub fn api_origin(&self) -> &str {
        self.api.origin()
    }

    /// Stops both apps.
    pub async fn stop(self) {
        self.dev.stop().await;
        self.cloud.stop().await;
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
