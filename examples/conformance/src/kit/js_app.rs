//! The official JS SDK serving the function contract (`tests/conformance/js/app.mjs`) as a
//! child process. It binds port 0 and prints `listening on 127.0.0.1:<port>`, which is read
//! here, so no port is picked before it is bound.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::error::KitError;

/// How long the app may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running JS app. Killed when dropped.
pub struct JsApp {
    child: Child,
    origin: String,
}

fn start_error(what: impl Into<String>) -> KitError {
    KitError::App(what.into())
}

impl JsApp {
    /// Starts `node app.mjs` in `dir` (where `npm install` has run) with `env` added and
    /// every `INNGEST_*` variable of this process removed.
    pub async fn start(dir: &Path, env: &[(&str, &str)]) -> Result<Self, KitError> {
        if !dir.join("node_modules/inngest").is_dir() {
            return Err(start_error(format!(
                "{} has no node_modules/inngest: run `bash .ci/js-sdk.sh` (it installs the pinned SDK and prints the folder)",
                dir.display()
            )));
        }
        let mut cmd = Command::new("node");
        cmd.arg("app.mjs")
            .current_dir(dir)
            .env("APP_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (k, _) in std::env::vars() {
            if k.starts_with("INNGEST_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd
            .spawn()
            .map_err(|e| start_error(format!("starting node in {}: {e}", dir.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| start_error("the app's stdout is not piped"))?;
        let mut lines = BufReader::new(stdout).lines();
        let origin = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let addr = addr.split_whitespace().next().unwrap_or_default();
                    return Some(format!("http://{}", addr.trim_end_matches("/api/inngest")));
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| start_error("the JS app did not print `listening on <address>`"))?;
        // Keep reading its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, origin })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Stops the app.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
