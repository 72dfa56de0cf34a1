//! `cargo inngest`: scaffolding and a dev loop for Inngest workflows in Rust.

mod commands;

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
    /// Run the embedded Inngest-compatible dev server (like `npx inngest-cli dev`).
    DevServer(commands::dev_server::Args),
}

fn main() -> anyhow::Result<()> {
    // `cargo inngest …` runs `cargo-inngest inngest …`: drop the subcommand name.
    let args = std::env::args()
        .enumerate()
        .filter(|(i, a)| !(*i == 1 && a == "inngest"))
        .map(|(_, a)| a);
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::DevServer(args) => commands::dev_server::run(args),
    }
}
