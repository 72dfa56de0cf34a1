//! `cargo inngest`: scaffolding and a dev loop for Inngest workflows in Rust.

use clap::Parser;

/// Cargo subcommand for Inngest durable workflows in Rust.
#[derive(Parser)]
#[command(name = "cargo-inngest", bin_name = "cargo inngest", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    // `cargo inngest …` runs `cargo-inngest inngest …`: drop the subcommand name.
    let args = std::env::args()
        .enumerate()
        .filter(|(i, a)| !(*i == 1 && a == "inngest"))
        .map(|(_, a)| a);
    let _cli = Cli::parse_from(args);
    Ok(())
}
