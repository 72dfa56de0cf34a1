//! `cargo inngest run RUN_ID`: one run's step timeline as text (or JSON).

use anyhow::Context as _;
use serde_json::Value;

use super::server_api::{Api, Target};

/// Flags of `run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The run's id.
    run_id: String,
    #[command(flatten)]
    target: Target,
}

/// Milliseconds since the Unix epoch of an RFC 3339 time.
fn ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The timeline: a header, one line per step report (time since the start, op, name, attempt,
/// error), and the output.
pub fn timeline(run: &Value) -> Vec<String> {
    let text = |k: &str| run[k].as_str().unwrap_or("-").to_string();
    let started = ms(&text("run_started_at"));
    let took = match (started, run["ended_at"].as_str().and_then(ms)) {
        (Some(a), Some(b)) => format!(", took {} ms", b.saturating_sub(a)),
        _ => String::new(),
    };
    let mut lines = vec![format!(
        "run {} of {}: {} (started {}{took})",
        text("run_id"),
        text("function_id"),
        text("status"),
        text("run_started_at")
    )];
    for step in run["steps"].as_array().into_iter().flatten() {
        let at = step["at_ms"].as_i64();
        let offset = match (started, at) {
            (Some(a), Some(b)) => format!("+{} ms", b.saturating_sub(a)),
            _ => "-".into(),
        };
        let mut line = format!(
            "  {offset:>12}  {:<22}  {}",
            step["op"].as_str().unwrap_or("-"),
            step["name"].as_str().unwrap_or("-")
        );
        let attempt = step["attempt"].as_u64().unwrap_or(0);
        if attempt > 0 {
            line.push_str(&format!("  (attempt {})", attempt.saturating_add(1)));
        }
        if let Some(message) = step["error"]["message"].as_str() {
            line.push_str(&format!("  error: {message}"));
        }
        if let Some(at) = step["retry_at"].as_str() {
            line.push_str(&format!("  retry at {at}"));
        }
        lines.push(line);
    }
    if let Some(output) = run.get("output").filter(|o| !o.is_null()) {
        lines.push(format!("  output: {output}"));
    }
    lines
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let api = Api::new(&args.target);
    let url = api.url(&["v1", "runs", &args.run_id], &[])?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let run = runtime.block_on(api.get(url))?;
    if args.target.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        for line in timeline(&run) {
            println!("{line}");
        }
    }
    Ok(())
}
