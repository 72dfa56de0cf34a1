//! Drives the corpus scenarios through a dev server and an app behind a recording proxy, and
//! compares what happened with what the official SDK recorded.

use std::time::Duration;

use inngest_devserver::DevServer;

use super::{
    Proxy, Served, diff_with_recording, find_run, finished, outcome_diff, read_json,
    recorded_requests, scenarios,
};

/// How a scenario's run is pushed to its end.
struct Plan {
    name: &'static str,
    /// Send the scenario's event (false: a cron tick starts it).
    send: bool,
    /// Send the scenario's feed event once the run waits.
    feed: Option<&'static str>,
    /// Move the clock by this much whenever the run is idle.
    advance: Option<Duration>,
    /// An invoked child to compare with another recording: (function id, scenario).
    child: Option<(&'static str, &'static str)>,
}

const fn plan(name: &'static str) -> Plan {
    Plan {
        name,
        send: true,
        feed: None,
        advance: None,
        child: None,
    }
}

fn plans() -> Vec<Plan> {
    let minute = Some(Duration::from_secs(60));
    vec![
        Plan {
            advance: Some(Duration::from_secs(3 * 86_400)),
            ..plan("welcome-user")
        },
        plan("welcome-user-failure"),
        Plan {
            send: false,
            ..plan("daily-digest")
        },
        Plan {
            feed: Some("wait-for-payment-event"),
            ..plan("wait-for-payment")
        },
        Plan {
            advance: Some(Duration::from_secs(3601)),
            ..plan("wait-for-payment-timeout")
        },
        Plan {
            child: Some(("probe-app-child-fn", "child-fn-invoked")),
            ..plan("parent-fn")
        },
        plan("non-retriable"),
        plan("parallel-steps"),
        plan("repeated-ids"),
        Plan {
            advance: minute,
            ..plan("failing-step")
        },
        plan("send-event"),
        Plan {
            advance: minute,
            ..plan("plain-throw")
        },
        Plan {
            advance: minute,
            ..plan("retry-after")
        },
    ]
}

/// Time until the next 09:00 UTC, plus a second.
fn until_nine(server: &DevServer) -> Duration {
    let now = server.clock().now_ms();
    let day = 86_400_000;
    let nine = 9 * 3_600_000;
    let today_nine = now - now.rem_euclid(day) + nine;
    let next = if today_nine > now {
        today_nine
    } else {
        today_nine + day
    };
    Duration::from_millis(u64::try_from(next - now).unwrap_or(0) + 1000)
}

/// Runs every scenario; returns the failures (empty when all match). `suffix` picks the
/// recordings (`""` classic, `"-checkpoint"`); scenarios without such a recording are checked
/// on their outcome only. With a `proxy` (the app is called over HTTP through it), the
/// requests are compared with the recording too; without one (a connect worker) only the
/// outcomes are.
pub async fn run_all(
    server: &DevServer,
    proxy: Option<&Proxy>,
    suffix: &str,
) -> (usize, Vec<String>) {
    let all = scenarios();
    let mut failures = Vec::new();
    let mut compared = 0;
    for p in plans() {
        let sc = &all[p.name];
        let function = sc["fn"].as_str().expect("fn").to_string();
        let (before, _) = server.engine().recent().await.expect("running");
        let skip: Vec<String> = before.iter().map(|r| r.run_id.clone()).collect();
        if p.send {
            server
                .send(vec![sc["event"].clone()])
                .await
                .expect("event accepted");
        } else {
            server.advance(until_nine(server)).await.expect("running");
        }
        let Some(run) = find_run(server, &function, &skip).await else {
            failures.push(format!("{}: no run of {function} started", p.name));
            continue;
        };
        let mut fed = false;
        let mut done = None;
        for _ in 0..40 {
            if let Some(r) = finished(server, &run, 300).await {
                done = Some(r);
                break;
            }
            let r = server
                .run(&run.run_id)
                .await
                .expect("running")
                .expect("the run exists");
            let waiting = r.steps.iter().any(|s| s.op == "WaitForEvent");
            match (p.feed, waiting, fed) {
                (Some(feed), true, false) => {
                    server
                        .send(vec![sc["feed"][feed].clone()])
                        .await
                        .expect("feed accepted");
                    fed = true;
                }
                _ => {
                    if let Some(by) = p.advance {
                        server.advance(by).await.expect("running");
                    }
                }
            }
        }
        let Some(done) = done else {
            failures.push(format!("{}: the run never finished", p.name));
            continue;
        };
        let recording = format!("{}{suffix}", p.name);
        let dir = super::corpus().join(&recording);
        let manifest_dir = if dir.exists() {
            dir
        } else {
            super::corpus().join(p.name)
        };
        if let Some(d) = outcome_diff(&done, &read_json(&manifest_dir.join("manifest.json"))) {
            failures.push(format!("{}: {d}", p.name));
        }
        if let Some(proxy) = proxy.filter(|_| super::corpus().join(&recording).exists()) {
            compared += 1;
            let diffs =
                diff_with_recording(&proxy.requests(&run.run_id), &recorded_requests(&recording));
            failures.extend(diffs.into_iter().map(|d| format!("{recording}: {d}")));
        }
        if let Some((child_fn, child_recording)) = p.child {
            let child = find_run(server, child_fn, &skip).await;
            match (child, proxy) {
                (Some(c), Some(proxy)) if suffix.is_empty() => {
                    compared += 1;
                    let diffs = diff_with_recording(
                        &proxy.requests(&c.run_id),
                        &recorded_requests(child_recording),
                    );
                    failures.extend(diffs.into_iter().map(|d| format!("{child_recording}: {d}")));
                }
                (Some(_), _) => {}
                (None, _) => failures.push(format!("{}: the invoked child never ran", p.name)),
            }
        }
    }
    (compared, failures)
}

/// Starts a dev server, a recording proxy, and the app `start` serves on a port of its own
/// (registering the proxy's origin as its own); runs every scenario and asserts that all match.
pub async fn drive_app<A: Served>(
    checkpointing: bool,
    suffix: &str,
    start: impl AsyncFnOnce(&str, &str) -> A,
) {
    let server = DevServer::start(inngest_devserver::DevServerConfig {
        port: 0,
        checkpointing,
        ..inngest_devserver::DevServerConfig::default()
    })
    .await
    .expect("the dev server starts");
    let proxy = Proxy::start().await;
    let app = start(server.url(), &proxy.origin()).await;
    proxy.set_upstream(app.port());
    super::sync_when_up(&server, &format!("{}/api/inngest", proxy.origin())).await;
    let (compared, failures) = run_all(&server, Some(&proxy), suffix).await;
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let expected = if suffix.is_empty() { 14 } else { 3 };
    assert!(
        compared >= expected,
        "only {compared} request sequences compared"
    );
    server.stop().await;
}
