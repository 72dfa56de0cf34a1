//! `cargo inngest dev-server`: the embedded dev server on its own, for any Inngest app.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use inngest_devserver::{DevServer, DevServerConfig};

/// Flags of `dev-server`, named as `inngest dev` names them.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Port for the event API, the executor's API and the page (0 picks a free one; the
    /// `inngest dev server on …` line says which).
    #[arg(short, long, default_value_t = 8288, env = "INNGEST_PORT")]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "INNGEST_HOST")]
    host: IpAddr,
    /// SQLite file that keeps runs, sleeps and waits across restarts (default: in memory).
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// App serve URL to sync and keep synced (repeatable), e.g. http://127.0.0.1:3000/api/inngest.
    #[arg(short = 'u', long = "sdk-url", value_name = "APP_URL")]
    sdk_url: Vec<String>,
    /// Seconds between re-syncs of the app URLs.
    #[arg(long, default_value_t = 5)]
    poll_interval: u64,
    /// Seconds between retries instead of the backoff table (15 s … 2 h).
    #[arg(long, value_name = "SECONDS")]
    retry_interval: Option<u64>,
    /// Do not offer checkpointing to v4 SDKs (every step is a call, as with older servers).
    #[arg(long)]
    no_checkpointing: bool,
    /// A host name the API also answers to (repeatable). Local and private names always
    /// work; other `Host`s are refused, against DNS rebinding.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_host: Vec<String>,
}

impl Args {
    /// The server's options. `DevServerConfig` is the plain struct the server takes, so the
    /// clap layer only converts.
    fn into_config(self) -> DevServerConfig {
        DevServerConfig {
            host: self.host,
            port: self.port,
            state: self.state,
            app_urls: self.sdk_url,
            poll_interval: Duration::from_secs(self.poll_interval.max(1)),
            checkpointing: !self.no_checkpointing,
            allowed_hosts: self.allow_host,
            // 0, as in the official dev server, means the default backoff.
            retry_interval: self
                .retry_interval
                .filter(|&s| s > 0)
                .map(Duration::from_secs),
            ..DevServerConfig::default()
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = args.into_config();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = DevServer::start(config).await?;
        // The bound address (with `--port 0`, the port picked): callers read it.
        println!("inngest dev server on {}", server.url());
        println!(
            "  apps: set INNGEST_DEV={} and sync with -u or PUT",
            server.url()
        );
        println!(
            "  runs: {}/ (page), {}/v1/runs/<id>",
            server.url(),
            server.url()
        );
        tokio::select! {
            _ = shutdown_signal() => {}
            message = server.failed() => {
                // A bug: the engine panicked and the server closed; say so and exit non-zero.
                server.stop().await;
                anyhow::bail!("the dev server's engine stopped on a panic: {message}");
            }
        }
        println!("stopping");
        server.stop().await;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
