//! `cargo inngest dev`: a dev server, the app built and run against it, and a watcher that
//! swaps in a fresh build whenever the project changes.
//!
//! Layered as cargo's `cargo add` is: [`Args`] is what clap parses, and this module turns it
//! into a plain [`DevOptions`] (the project found, the events parsed, the binary and the app's
//! port chosen), which is all the rest takes. The rest, one concept a module:
//!
//! - [`supervisor`]: the loop: start the server, build, swap the app in, watch, stop;
//! - [`server`]: the dev server (embedded, official, or whichever starts);
//! - [`build`]: `cargo build` and the executable it reports;
//! - [`process`]: a child in its own process group, stopped as a whole;
//! - [`app_sync`]: waiting for the app to serve (and syncing it with the dev server's syncer)
//!   or to connect to the gateway, which tells its transport;
//! - [`functions`]: the table of the functions the app registered;
//! - [`runs`]: the runs the embedded server finishes;
//! - [`events`]: the `--send` events;
//! - [`watch`]: which changes count;
//! - [`console`]: one console with a prefix per source.

mod app_sync;
mod build;
mod console;
mod events;
mod functions;
mod options;
mod process;
mod runs;
mod server;
mod supervisor;
mod watch;

/// An HTTP client for talking to the dev server, with timeouts: a server that accepts and never
/// answers must not hang the dev loop.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_default()
}

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::project::{self, Selection};
pub use options::DevOptions;

/// Flags of `dev`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    selection: Selection,
    /// Which dev server to run.
    #[arg(long, value_enum, default_value_t = ServerArg::Auto)]
    server: ServerArg,
    /// The dev server's port (0 picks a free one).
    #[arg(long, default_value_t = 8288)]
    port: u16,
    /// SQLite file for the embedded server's state (default: in memory).
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// The port the app listens on (given to it as PORT; 0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    app_port: u16,
    /// The app's serve path.
    #[arg(long, default_value = "/api/inngest")]
    serve_path: String,
    /// The binary to run, when the package has several.
    #[arg(long)]
    bin: Option<String>,
    /// Build in release mode.
    #[arg(long)]
    release: bool,
    /// An event (JSON) to send once the app first serves, e.g. '{"name":"shop/hello.requested","data":{"id":"Ada"}}'.
    #[arg(long, value_name = "JSON")]
    send: Vec<String>,
    /// How long the official dev server gets to start and answer, in seconds (1 to 3600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    official_timeout: u64,
    /// Milliseconds of quiet after a change before rebuilding (50 to 200).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(50..=200))]
    debounce_ms: u64,
}

/// `--server`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum ServerArg {
    /// The official one if it starts and answers in time, else the embedded one.
    Auto,
    /// `inngest-devserver`, in process.
    Embedded,
    /// The official Inngest dev server.
    Official,
}

impl From<ServerArg> for server::Choice {
    fn from(arg: ServerArg) -> Self {
        match arg {
            ServerArg::Auto => Self::Auto,
            ServerArg::Embedded => Self::Embedded,
            ServerArg::Official => Self::Official,
        }
    }
}

impl Args {
    /// Finds the project and checks the flags against it.
    fn into_options(self) -> anyhow::Result<DevOptions> {
        let project = project::locate(&self.selection)?;
        Ok(DevOptions {
            events: options::parse_events(&self.send)?,
            bin: options::pick_bin(&project, self.bin)?,
            app_port: options::app_port(self.app_port)?,
            project,
            server: self.server.into(),
            port: self.port,
            state: self.state,
            serve_path: self.serve_path,
            release: self.release,
            official_timeout: Duration::from_secs(self.official_timeout),
            debounce: Duration::from_millis(self.debounce_ms),
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let options = args.into_options()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(supervisor::run(options))?;
    Ok(())
}
