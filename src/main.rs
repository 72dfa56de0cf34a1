//! `cargo inngest`: scaffolding and a dev loop for Inngest workflows in Rust.

mod commands;
mod manifest;
mod names;
mod plan;
mod project;
mod runtime_source;
mod rust_edit;
mod scan;
mod templates;

use clap::{Parser, Subcommand};

/// Cargo subcommand for Inngest durable workflows in Rust.
#[derive(Parser)]
#[command(name = "cargo-inngest", bin_name = "cargo inngest", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add inngest-runtime to the package and write the config, workflows and events modules.
    Configure(commands::configure::Args),
    /// Generate a workflow or an event, and register it.
    #[command(subcommand)]
    Make(commands::make::What),
    /// List the workflows and events the package declares.
    List(commands::list::Args),
    /// Run a dev server and the app, rebuilding and restarting it on every change.
    Dev(commands::dev::Args),
    /// Run the embedded Inngest-compatible dev server (like `npx inngest-cli dev`).
    DevServer(commands::dev_server::Args),
    /// Send an event (to a dev server, or with INNGEST_EVENT_KEY to Inngest).
    Send(commands::send::Args),
    /// Start a run of a function on the dev server, as `step.invoke` would.
    Invoke(commands::invoke::Args),
    /// List the dev server's runs (`--watch` follows them).
    Runs(commands::runs::Args),
    /// Show one run's step timeline.
    Run(commands::run::Args),
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", inngest_runtime::error::chain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Gives SIGPIPE its default action back (Rust ignores it, so writes to a closed pipe fail and
/// `println!` panics).
fn restore_default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called once, before any other thread exists, with the default handler (no Rust
    // code runs in a signal handler).
    // Failing leaves Rust's default (ignored), which is only less tidy.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn run() -> anyhow::Result<()> {
    // `cargo inngest …` runs `cargo-inngest inngest …`: drop the subcommand name.
    let args = std::env::args()
        .enumerate()
        .filter(|(i, a)| !(*i == 1 && a == "inngest"))
        .map(|(_, a)| a);
    let cli = Cli::parse_from(args);
    if !matches!(cli.command, Command::Dev(_) | Command::DevServer(_)) {
        // A command whose output goes to a pipe closed early (`cargo inngest runs | head -1`)
        // ends quietly, as Unix tools do, instead of panicking at its next `println!`. Not for
        // the long-running ones: they must stop their children and server on the way out.
        restore_default_sigpipe();
    }
    match cli.command {
        Command::Configure(args) => commands::configure::run(args),
        Command::Make(what) => commands::make::run(what),
        Command::List(args) => commands::list::run(args),
        Command::Dev(args) => commands::dev::run(args),
        Command::DevServer(args) => commands::dev_server::run(args),
        Command::Send(args) => commands::send::run(args),
        Command::Invoke(args) => commands::invoke::run(args),
        Command::Runs(args) => commands::runs::run(args),
        Command::Run(args) => commands::run::run(args),
    }
}
