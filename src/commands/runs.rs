//! `cargo inngest runs [--watch] [--function F] [--status S]`: the dev server's newest runs as
//! a table (or JSON); with `--watch`, new runs and status changes as they happen.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use super::server_api::{Api, Target};

/// Flags of `runs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this function's runs (its composite id, e.g. `shop-welcome-user`).
    #[arg(long, value_name = "ID")]
    function: Option<String>,
    /// Only runs with this status: Running, Completed, Failed or Cancelled.
    #[arg(long)]
    status: Option<String>,
    /// How many (1 to 1000).
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Keep watching: print each new run and each change of status (Ctrl-C stops).
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    target: Target,
}

/// One run as a table row.
fn row(run: &Value) -> String {
    let text = |k: &str| run[k].as_str().unwrap_or("-").to_string();
    format!(
        "{:<26}  {:<32}  {:<9}  {}",
        text("run_id"),
        text("function_id"),
        text("status"),
        text("run_started_at")
    )
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let api = Api::new(&args.target);
    let limit = args.limit.to_string();
    let mut query = vec![("limit", limit.as_str())];
    if let Some(f) = &args.function {
        query.push(("function_id", f));
    }
    if let Some(s) = &args.status {
        query.push(("status", s));
    }
    let url = api.url(&["v1", "runs"], &query)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let fetch = || runtime.block_on(api.get(url.clone()));
    let runs = fetch()?;
    let list = runs.as_array().cloned().unwrap_or_default();
    if args.target.json && !args.watch {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    let header = format!(
        "{:<26}  {:<32}  {:<9}  started",
        "run", "function", "status"
    );
    if !args.target.json {
        println!("{header}");
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    let show = |run: &Value, seen: &mut HashMap<String, String>| {
        let id = run["run_id"].as_str().unwrap_or_default().to_string();
        let status = run["status"].as_str().unwrap_or_default().to_string();
        if seen.get(&id) == Some(&status) {
            return;
        }
        seen.insert(id, status);
        if args.target.json {
            println!("{run}");
        } else {
            println!("{}", row(run));
        }
    };
    // Oldest first, so that a watch reads as a log.
    for run in list.iter().rev() {
        show(run, &mut seen);
    }
    if !args.watch {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let runs = fetch()?;
        for run in runs.as_array().into_iter().flatten().rev() {
            show(run, &mut seen);
        }
    }
}
