//! The test engine's speed: the wall time of one test of a 3-step workflow with a 3-day sleep
//! (a fresh `TestEngine`, the event, the clock moved three days, the output read), and of
//! 1,000 such tests in one process, one after the other.
//!
//! `cargo bench -p inngest-devserver --bench test_engine [-- --runs N --write]`; `--write` puts
//! the table into docs/performance.md.

mod support;

use support::{percentile, write_section};

use std::time::Instant;

use inngest_devserver::testing::TestEngine;
use inngest_runtime::{Context, Event, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Go {
    #[garde(skip)]
    n: u64,
}
impl Event for Go {
    const NAME: &'static str = "bench/go";
}

/// Step, step, a 3-day sleep, step.
struct ThreeSteps;
impl Workflow for ThreeSteps {
    type Event = Go;
    type Output = u64;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("three-steps")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u64, WorkflowError> {
        let n = ctx.event.data.n;
        let a = ctx.step.run("one", async move { Ok(n + 1) }).await?;
        let b = ctx.step.run("two", async move { Ok(a + 1) }).await?;
        ctx.step.sleep("wait-3-days", "3d").await?;
        ctx.step.run("three", async move { Ok(b + 1) }).await
    }
}

/// One whole test, as a user writes it.
async fn one_test(n: u64, classic: bool) {
    let t = if classic {
        TestEngine::classic("bench")
    } else {
        TestEngine::new()
    }
    .register(ThreeSteps);
    let run = t.send(Go { n }).await.expect("sent");
    run.advance("3d").await.expect("moved");
    assert_eq!(run.output::<u64>().await.expect("completed"), n + 3);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let write = args.iter().any(|a| a == "--write");
    // As `#[tokio::test]` runs a test: a current-thread runtime.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut rows = Vec::new();
    for classic in [false, true] {
        rt.block_on(one_test(0, classic));
        let mut times = Vec::with_capacity(runs);
        let all = Instant::now();
        for n in 0..runs as u64 {
            let t = Instant::now();
            rt.block_on(one_test(n, classic));
            times.push(t.elapsed());
        }
        let total = all.elapsed();
        times.sort();
        rows.push((
            if classic {
                "classic mode"
            } else {
                "checkpoint mode"
            },
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            total,
        ));
    }
    let mut table = format!(
        "<!-- test-engine-bench:start -->\n\nMeasured {} on this machine ({} cores), {runs} tests per row, release build, one current-thread runtime.\n\n\
         | one test: 3 steps and a 3-day sleep | p50 | p99 | {runs} tests in one process (goal: 1,000 in < 5 s) |\n|---|---:|---:|---:|\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
    );
    for (label, p50, p99, total) in &rows {
        table.push_str(&format!(
            "| {label} | {:.2} ms | {:.2} ms | {:.2} s |\n",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            total.as_secs_f64()
        ));
    }
    table.push_str("\n<!-- test-engine-bench:end -->");
    println!("{table}");
    if write {
        write_section("test-engine-bench", &table);
    }
}
