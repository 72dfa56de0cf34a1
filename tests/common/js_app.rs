//! The official JS SDK app (`tests/conformance/js/app.mjs`) served by `cargo inngest
//! dev-server`, each on a port of its own, for the tests that drive the CLI against a real peer.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use super::{Lines, url_after};

/// A child killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Forwards every connection `front` accepts to `to`, both ways.
fn forward(front: TcpListener, to: std::net::SocketAddr) {
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = front.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

/// `GET url` as JSON, `None` on any failure.
pub async fn get(url: &str) -> Option<Value> {
    reqwest::get(url).await.ok()?.json().await.ok()
}

/// Polls `f` every 50 ms until it gives a value (15 s at most).
pub async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `cargo inngest dev-server` serving the JS app, synced.
pub struct JsAppOnServer {
    /// The server's URL.
    pub base: String,
    pub server: Killed,
    pub app: Killed,
}

impl JsAppOnServer {
    /// Starts both and waits until the app's functions are synced.
    pub async fn start() -> Self {
        let js_dir = std::env::var("INNGEST_JS_APP_DIR").expect(
            "INNGEST_JS_APP_DIR names the installed JS app: `export INNGEST_JS_APP_DIR=$(bash .ci/js-sdk.sh)` (the README's test command does)",
        );
        assert!(
            std::path::Path::new(&js_dir)
                .join("node_modules/inngest")
                .exists(),
            "the official JS SDK is not installed in {js_dir}: run `bash .ci/js-sdk.sh`"
        );
        // The server and the app each bind port 0 and print where they listen. The app needs the
        // server's URL and the server the app's (`-u`), so the app's URL is a listener this test
        // holds, which forwards to wherever the app listens once it says.
        let app_front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let app_url = format!(
            "http://{}/api/inngest",
            app_front.local_addr().expect("an address")
        );
        let mut server = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
            .args(["inngest", "dev-server", "--port", "0", "-u", &app_url])
            .args(["--poll-interval", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let server_lines = Lines::of(&mut server);
        let server = Killed(server);
        let line = server_lines.wait_for(0, "inngest dev server on ", 60);
        let base = url_after(&line, "inngest dev server on ");
        let mut app = Command::new("node")
            .arg("app.mjs")
            .current_dir(&js_dir)
            .env("INNGEST_DEV", &base)
            .env("APP_PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let app_lines = Lines::of(&mut app);
        let _app = Killed(app);
        let line = app_lines.wait_for(0, "listening on ", 60);
        let app_addr: std::net::SocketAddr = line
            .rsplit("listening on ")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        forward(app_front, app_addr);
        eventually("the app to sync", async || {
            let apps = get(&format!("{base}/v1/apps")).await?;
            let f = apps["data"][0]["functions"].as_array()?.len();
            (f > 0).then_some(f)
        })
        .await;
        Self {
            base,
            server,
            app: _app,
        }
    }
}
