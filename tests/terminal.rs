//! The terminal commands against a running dev server (`cargo inngest dev-server` serving the
//! official JS SDK app): `send` starts a run, `runs` lists it (and `--watch` follows it),
//! `run` shows its timeline, `invoke` starts a function directly; `--json` output is
//! snapshot-tested with run ids and times replaced; bad input gets a clear error.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{JsAppOnServer, Killed, eventually, get};
use serde_json::Value;

mod common;

fn cli(base: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .arg("inngest")
        .args(args)
        .args(["--server", base])
        .output()
        .expect("the binary runs")
}

fn ok_stdout(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every ULID (26 characters of Crockford base32) in `v` replaced by `[ulid]`.
fn without_ulids(v: &mut Value) {
    match v {
        Value::String(s)
            if s.len() == 26
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) =>
        {
            *s = "[ulid]".into();
        }
        Value::Array(a) => a.iter_mut().for_each(without_ulids),
        Value::Object(o) => o.values_mut().for_each(without_ulids),
        _ => {}
    }
}

/// The run with ids, times and durations replaced, for a stable snapshot.
fn stable(mut run: Value) -> Value {
    without_ulids(&mut run);
    for key in ["run_id", "event_id", "run_started_at", "ended_at"] {
        if run.get(key).is_some_and(|v| !v.is_null()) {
            run[key] = Value::from(format!("[{key}]"));
        }
    }
    for step in run["steps"].as_array_mut().into_iter().flatten() {
        step["at_ms"] = Value::from(0);
        for key in ["retry_at", "queued_ms", "started_ms", "ended_ms"] {
            if step.get(key).is_some() {
                step[key] = Value::from(format!("[{key}]"));
            }
        }
    }
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_runs_run_and_invoke_against_a_dev_server() {
    let JsAppOnServer {
        base,
        server: _server,
        app: _app,
    } = JsAppOnServer::start().await;

    // `runs --watch --json` follows from before the event.
    let mut watch = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .args(["inngest", "runs", "--watch", "--json", "--server", &base])
        .args(["--function", "probe-app-send-event"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch starts");
    let watch_out = watch.stdout.take().expect("piped");
    let _watch = Killed(watch);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(watch_out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    // send: the event's id; its run completes.
    let sent = ok_stdout(&cli(&base, &["send", "app/send", "--data", "{}", "--json"]));
    let sent: Value = serde_json::from_str(sent.trim()).expect("JSON");
    let event_id = sent["ids"][0].as_str().expect("an id").to_string();
    let run_id = eventually("the run to finish", async || {
        let runs = get(&format!("{base}/v1/events/{event_id}/runs")).await?;
        let run = runs["data"].as_array()?.first()?.clone();
        (run["status"] == "Completed").then(|| run["run_id"].as_str().map(str::to_string))?
    })
    .await;

    // runs: the table lists it; --json is the API's list.
    let table = ok_stdout(&cli(&base, &["runs", "--function", "probe-app-send-event"]));
    let line = table
        .lines()
        .find(|l| l.starts_with(&run_id))
        .unwrap_or_else(|| panic!("{run_id} in:\n{table}"));
    assert!(
        line.contains("probe-app-send-event") && line.contains("Completed"),
        "{line}"
    );
    let listed: Value = serde_json::from_str(&ok_stdout(&cli(
        &base,
        &["runs", "--status", "Completed", "--json"],
    )))
    .expect("JSON");
    assert!(
        listed
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["run_id"] == run_id.as_str())),
        "{listed}"
    );

    // run: the timeline as text, and as JSON (snapshot).
    let timeline = ok_stdout(&cli(&base, &["run", &run_id]));
    assert!(
        timeline.starts_with(&format!("run {run_id} of probe-app-send-event: Completed")),
        "{timeline}"
    );
    assert!(timeline.contains("output: "), "{timeline}");
    let run: Value =
        serde_json::from_str(&ok_stdout(&cli(&base, &["run", &run_id, "--json"]))).expect("JSON");
    insta::assert_snapshot!(
        "run-json",
        serde_json::to_string_pretty(&stable(run)).expect("pretty")
    );

    // The watch saw the run end.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut followed = false;
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let v: Value = serde_json::from_str(&line).expect("a JSON line");
            if v["run_id"] == run_id.as_str() && v["status"] == "Completed" {
                followed = true;
                break;
            }
        }
    }
    assert!(followed, "runs --watch never showed {run_id} Completed");

    // invoke: a run of the function, started directly; its output.
    let started = ok_stdout(&cli(
        &base,
        &[
            "invoke",
            "probe-app-child-fn",
            "--data",
            r#"{"n":20}"#,
            "--json",
        ],
    ));
    let started: Value = serde_json::from_str(started.trim()).expect("JSON");
    let invoked = started["run_id"].as_str().expect("a run id").to_string();
    let run = eventually("the invoked run to finish", async || {
        let run = get(&format!("{base}/v1/runs/{invoked}")).await?["data"].clone();
        (run["status"] != "Running").then_some(run)
    })
    .await;
    assert_eq!(run["status"], "Completed", "{run}");
    assert_eq!(run["function_id"], "probe-app-child-fn");
    assert_eq!(run["output"], serde_json::json!({ "doubled": 40 }), "{run}");

    // `INNGEST_DEV=0` is cloud mode, as the runtime reads it: with an event key, `send` goes
    // to the event API the environment names (here the dev server, which takes any key), not
    // to a local dev server at the default address.
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .args(["inngest", "send", "app/cloud", "--json"])
        .env_remove("INNGEST_BASE_URL")
        .env("INNGEST_DEV", "0")
        .env("INNGEST_EVENT_KEY", "test-key")
        .env("INNGEST_EVENT_API_BASE_URL", &base)
        .output()
        .expect("the binary runs");
    let sent: Value = serde_json::from_str(ok_stdout(&out).trim()).expect("JSON");
    let cloud_id = sent["ids"][0].as_str().expect("an id").to_string();
    let event = get(&format!("{base}/v1/events?name=app/cloud")).await;
    assert_eq!(
        event.as_ref().map(|e| e["data"][0]["event"]["id"].clone()),
        Some(Value::from(cloud_id.clone())),
        "{event:?}"
    );

    // Bad input: a clear error, a non-zero exit.
    for (args, says) in [
        (vec!["invoke", "no-such-fn"], "no function \"no-such-fn\""),
        (vec!["runs", "--status", "Bogus"], "is not one of Running"),
        (
            vec!["send", "a/b", "--data", "[1]"],
            "--data must be a JSON object",
        ),
        (vec!["run", "01NOSUCHRUN"], "not found"),
    ] {
        let out = cli(&base, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
