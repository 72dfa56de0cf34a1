//! The dashboard with 10,000 stored runs: how long the runs API and the runs page's requests
//! take. Runs are made the real way (events sent to the dev server, a Rust app served over
//! HTTP runs them; one in ten fails), then each request is timed 50 times, one after the other.
//!
//! `cargo bench -p inngest-devserver --bench dashboard [-- --runs N --write]`; `--write` puts
//! the table into docs/performance.md.

mod support;

use support::{percentile, write_section};

use std::time::{Duration, Instant};

use inngest_devserver::{DevServer, DevServerConfig, RunFilter, RunStatus};
use inngest_runtime::{App, Context, Event, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Job {
    #[garde(skip)]
    n: u64,
}
impl Event for Job {
    const NAME: &'static str = "bench/job";
}

/// One step; every tenth run fails for good.
struct Work;
impl Workflow for Work {
    type Event = Job;
    type Output = u64;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("work")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u64, WorkflowError> {
        let n = ctx.event.data.n;
        ctx.step
            .run("compute", async move {
                if n % 10 == 9 {
                    Err(WorkflowError::non_retriable("every tenth fails"))
                } else {
                    Ok(n * 2)
                }
            })
            .await
    }
}

/// A second function on the same event, so the function filter has something to filter.
struct Audit;
impl Workflow for Audit {
    type Event = Job;
    type Output = u64;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("audit")
    }
    fn triggers() -> Vec<inngest_runtime::Trigger> {
        vec![inngest_runtime::Trigger::event::<Job>().when("event.data.n % 4 == 0")]
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u64, WorkflowError> {
        Ok(ctx.event.data.n)
    }
}

async fn fill(server: &DevServer, runs: usize) {
    let jobs = runs * 4 / 5; // Work runs for each, Audit for one in four: 1.25 runs a job.
    let mut n = 0u64;
    while (n as usize) < jobs {
        let batch: Vec<Value> = (0..500)
            .take(jobs - n as usize)
            .map(|i| json!({ "name": Job::NAME, "data": { "n": n + i } }))
            .collect();
        n += batch.len() as u64;
        server.send(batch).await.expect("accepted");
        // Keep the queue short: wait for most of the batch before the next one.
        loop {
            let running = server
                .engine()
                .count_runs(RunFilter {
                    status: Some(RunStatus::Running),
                    ..Default::default()
                })
                .await
                .expect("running");
            if running < 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    server.engine().settled().await.expect("running");
}

async fn time(http: &reqwest::Client, urls: &[String]) -> (Duration, Duration, Duration) {
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        for url in urls {
            let resp = http.get(url).send().await.expect("an answer");
            assert!(resp.status().is_success(), "{url}: {}", resp.status());
            let _ = resp.bytes().await.expect("a body");
        }
        times.push(t.elapsed());
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        *times.last().expect("times"),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let write = args.iter().any(|a| a == "--write");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let table = rt.block_on(async {
        let dir = tempfile::tempdir().expect("a folder");
        let server = DevServer::start(DevServerConfig {
            port: 0,
            state: Some(dir.path().join("state.db")),
            ..Default::default()
        })
        .await
        .expect("the dev server starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let origin = format!("http://{}", listener.local_addr().expect("bound"));
        let mut config = inngest_runtime::config::Config::dev(server.url());
        config.serve_origin = Some(origin.clone());
        let client = inngest_runtime::Inngest::with_config("bench", config);
        let app = App::builder(client)
            .register(Work)
            .register(Audit)
            .build()
            .expect("the app registers");
        let router =
            axum::Router::new().route("/api/inngest", inngest_runtime::serve::axum::endpoint(app));
        let app_task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        server
            .sync_app(&format!("{origin}/api/inngest"))
            .await
            .expect("synced");
        let filled = Instant::now();
        fill(&server, runs).await;
        let fill_time = filled.elapsed();
        let stored = server
            .engine()
            .count_runs(RunFilter::default())
            .await
            .expect("running");

        let http = reqwest::Client::new();
        let base = server.url().to_string();
        let page: Vec<Value> = http
            .get(format!("{base}/v1/runs?limit=50"))
            .send()
            .await
            .expect("runs")
            .json::<Value>()
            .await
            .expect("JSON")["data"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let some_run = page[0]["run_id"].as_str().expect("a run").to_string();
        let middle = server
            .engine()
            .find_runs(RunFilter {
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .expect("running")
            .last()
            .map(|r| r.run_id.clone())
            .expect("a run");
        let first_start = page
            .last()
            .and_then(|r| r["run_started_at"].as_str())
            .unwrap_or_default()
            .to_string();
        let cases: Vec<(&str, Vec<String>)> = vec![
            (
                "the runs page: `/`, its script and style, `/dev`, `/v1/apps`, `/v1/runs?limit=50`",
                [
                    "/",
                    "/assets/dashboard.js",
                    "/assets/dashboard.css",
                    "/dev",
                    "/v1/apps",
                    "/v1/runs?limit=50",
                ]
                .iter()
                .map(|p| format!("{base}{p}"))
                .collect(),
            ),
            ("`/v1/runs?limit=50` (newest, with the total)", vec![format!("{base}/v1/runs?limit=50")]),
            ("`/v1/runs?status=Failed&limit=50`", vec![format!("{base}/v1/runs?status=Failed&limit=50")]),
            ("`/v1/runs?function_id=bench-audit&limit=50`", vec![format!("{base}/v1/runs?function_id=bench-audit&limit=50")]),
            ("`/v1/runs?limit=50&before=…` (the 21st page)", vec![format!("{base}/v1/runs?limit=50&before={middle}")]),
            ("`/v1/runs?from=…&limit=50` (a time range)", vec![format!("{base}/v1/runs?limit=50&from={first_start}")]),
            ("`/v1/runs?limit=1000`", vec![format!("{base}/v1/runs?limit=1000")]),
            ("`/v1/events?limit=50` (each with its runs)", vec![format!("{base}/v1/events?limit=50")]),
            ("`/v1/runs/{id}/trace`", vec![format!("{base}/v1/runs/{some_run}/trace")]),
        ];
        let mut table = format!(
            "<!-- dashboard-bench:start -->\n\nMeasured {} on this machine ({} cores), release build: {stored} runs stored \
             (SQLite file, made by sending {} events in {:.1} s), each request 50 times in a row over HTTP.\n\n\
             | request (goal: < 100 ms) | p50 | p95 | max |\n|---|---:|---:|---:|\n",
            chrono::Utc::now().format("%Y-%m-%d"),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            runs * 4 / 5,
            fill_time.as_secs_f64(),
        );
        for (label, urls) in &cases {
            let (p50, p95, max) = time(&http, urls).await;
            table.push_str(&format!(
                "| {label} | {:.2} ms | {:.2} ms | {:.2} ms |\n",
                p50.as_secs_f64() * 1e3,
                p95.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3,
            ));
        }
        table.push_str("\n<!-- dashboard-bench:end -->");
        app_task.abort();
        server.stop().await;
        table
    });
    println!("{table}");
    if write {
        write_section("dashboard-bench", &table);
    }
}
