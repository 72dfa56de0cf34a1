//! `cargo inngest dev` on a scratch project made with `configure` + `make workflow`: it serves,
//! runs events, swaps in new builds on edits (a new step, a new workflow), keeps the old build
//! on a compile error, and leaves no process behind on SIGTERM. `--server official` is tested
//! with a stand-in `inngest` on PATH (the real binary cannot be fetched here).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Lines, url_after};
use serde_json::{Value, json};

mod common;

fn cargo_inngest(dir: &Path, args: &[&str]) {
    common::ok(&common::cargo_inngest(dir, args));
}

/// A configured scratch project with a `welcome-user` workflow.
fn scratch_project() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let project = common::configured_shop(tmp.path());
    (tmp, project)
}

/// `cargo inngest dev` as a child, its output collected line by line. It picks the ports
/// (`--port 0 --app-port 0`) and says which.
struct Dev {
    child: Child,
    lines: Lines,
}

impl Dev {
    fn start(project: &Path, extra: &[&str], path_prefix: Option<&Path>) -> Self {
        Self::start_with_target(project, extra, path_prefix, &common::scratch_target_dir())
    }

    /// [`Dev::start`] building into `target`.
    fn start_with_target(
        project: &Path,
        extra: &[&str],
        path_prefix: Option<&Path>,
        target: &Path,
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"));
        cmd.args(["inngest", "dev", "--port", "0", "--app-port", "0"])
            .args(extra)
            .current_dir(project)
            .env("CARGO_TARGET_DIR", target)
            .env("CARGO_NET_OFFLINE", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = path_prefix {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", dir.display()));
        }
        let mut child = cmd.spawn().expect("dev starts");
        let lines = Lines::of(&mut child);
        Self { child, lines }
    }

    /// The app's serve URL, as `dev` printed it once the server was up.
    fn app_url(&self) -> String {
        let line = self.wait_for(0, "app: http://", 1);
        line.rsplit("app: ")
            .next()
            .expect("an app url")
            .trim()
            .to_string()
    }

    /// The dev server's URL, as `dev` printed it once the server was up.
    fn server(&self) -> String {
        let line = self.wait_for(0, " dev server on http://", 120);
        url_after(&line, " dev server on ")
    }

    fn output(&self) -> String {
        self.lines.output()
    }

    /// Waits until a line after the first `from` lines contains `needle`; returns that line.
    fn wait_for(&self, from: usize, needle: &str, secs: u64) -> String {
        self.lines.wait_for(from, needle, secs)
    }

    /// Waits until no new line has come for a second (a rebuild in flight has finished); fails
    /// when the output never stops for 3 minutes (a rebuild loop, say).
    fn settle(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        let mut last = self.seen();
        loop {
            std::thread::sleep(Duration::from_millis(1000));
            let now = self.seen();
            if now == last {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the output never settled (a rebuild loop?):\n{}",
                self.output()
            );
            last = now;
        }
    }

    fn seen(&self) -> usize {
        self.lines.seen()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill")
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "dev did not exit; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dev {
    /// SIGTERM first, so that `dev` stops the app it started even when a test fails midway;
    /// SIGKILL only if it does not exit within 10 s.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pid a `… (pid N)` line names.
fn pid_in(line: &str) -> String {
    line.rsplit("(pid ")
        .next()
        .unwrap_or_default()
        .trim_end_matches(')')
        .to_string()
}

fn pid_alive(pid: &str) -> bool {
    Path::new("/proc").join(pid).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(f)
}

/// Posts `body` to the dev server at `path`; the JSON answer.
fn post(server: &str, path: &str, body: &Value) -> Value {
    post_with_status(server, path, body).1
}

/// Posts `body` to `origin` at `path`; the status and the JSON answer.
fn post_with_status(origin: &str, path: &str, body: &Value) -> (u16, Value) {
    block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("{origin}{path}"))
            .json(body)
            .send()
            .await
            .expect("sent");
        (resp.status().as_u16(), resp.json().await.expect("json"))
    })
}

/// Sends an event; its id.
fn send_event(server: &str, event: &Value) -> String {
    let sent = post(server, "/e/test", event);
    sent["ids"][0].as_str().expect("an id").to_string()
}

/// Sends an event and waits for the run of `function` it starts to complete; returns the run.
fn run_to_completion(dev: &Dev, server: &str, event: Value, function: &str) -> Value {
    let id = send_event(server, &event);
    finished_run(dev, server, &id, function)
}

/// Waits until the run event `id` started has reported step `step` (a sleep it now waits in).
fn wait_for_step(server: &str, id: &str, step: &str) {
    block_on(async {
        let http = reqwest::Client::new();
        for _ in 0..400 {
            let runs: Value = http
                .get(format!("{server}/v1/events/{id}/runs"))
                .send()
                .await
                .expect("runs")
                .json()
                .await
                .expect("json");
            let reported = runs["data"].as_array().is_some_and(|a| {
                a.iter().any(|r| {
                    r["steps"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|st| st["name"] == step))
                })
            });
            if reported {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the run of event {id} never reported {step}");
    })
}

/// Waits for the run of `function` that event `id` started to finish; returns the run.
fn finished_run(dev: &Dev, server: &str, id: &str, function: &str) -> Value {
    block_on(async {
        let http = reqwest::Client::new();
        for _ in 0..400 {
            let runs: Value = http
                .get(format!("{server}/v1/events/{id}/runs"))
                .send()
                .await
                .expect("runs")
                .json()
                .await
                .expect("json");
            if let Some(run) = runs["data"].as_array().and_then(|a| {
                a.iter()
                    .find(|r| r["function_id"] == function && r["status"] != "Running")
            }) {
                return run.clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "no finished run of {function} for event {id}; dev said:\n{}",
            dev.output()
        );
    })
}

#[test]
fn the_dev_loop_serves_rebuilds_keeps_the_old_build_on_errors_and_cleans_up() {
    let (_tmp, project) = scratch_project();
    // The state in a file under `.inngest/`, as the guide shows: the server writing it must not
    // count as a change to rebuild for (each start syncs, which writes it).
    let mut dev = Dev::start(
        &project,
        &["--server", "embedded", "--state", ".inngest/dev.sqlite"],
        None,
    );
    // The first build may compile every dependency (a cold CI cache).
    dev.wait_for(0, "shop-welcome-user", 1200);
    let server = dev.server();
    let first_pid = pid_in(&dev.wait_for(0, "(pid ", 5));

    // The first start follows no change, and says how to skip a sleep.
    let ready = dev.wait_for(0, "serving shop: ready", 60);
    assert!(ready.contains("ms after start"), "{ready}");
    assert!(project.join(".inngest/dev.sqlite").is_file());
    dev.settle();
    let builds = dev.output().matches("built in ").count();
    assert_eq!(builds, 1, "one build at the start:\n{}", dev.output());
    dev.wait_for(0, "/dev/time/advance", 5);
    assert!(
        !dev.output().contains("after the change"),
        "{}",
        dev.output()
    );

    let user = json!({ "name": "user/user.created", "data": { "id": "u_1" } });
    let run = run_to_completion(&dev, &server, user.clone(), "shop-welcome-user");
    assert_eq!(run["status"], "Completed", "{run}");
    assert_eq!(run["output"], json!({ "first_step": "handled u_1" }));

    // Add a step that fails on its first attempt: the new build serves, the failed attempt is
    // printed with its retry, and the retry (the clock moved past it) completes the run.
    let wf = project.join("src/workflows/welcome_user_workflow.rs");
    let text = std::fs::read_to_string(&wf).expect("read");
    let edited = text.replace(
        "        Ok(WelcomeUserOutput { first_step })",
        "        let attempt = ctx.attempt;\n        let first_step = ctx\n            .step\n            .run(\"second-step\", async {\n                if attempt == 0 && ctx.event.data.id == \"u_flaky\" {\n                    return Err(WorkflowError::new(\"flaky on purpose\"));\n                }\n                Ok(format!(\"{first_step} twice\"))\n            })\n            .await?;\n        Ok(WelcomeUserOutput { first_step })",
    );
    assert_ne!(edited, text);
    let mark = dev.seen();
    std::fs::write(&wf, edited).expect("write");
    dev.wait_for(mark, "serving the new build", 300);
    let mark = dev.seen();
    let flaky = json!({ "name": "user/user.created", "data": { "id": "u_flaky" } });
    let event_id = send_event(&server, &flaky);
    let failed = dev.wait_for(mark, "step \"second-step\" failed", 60);
    assert!(
        failed.contains("(attempt 1 of 5): Error: flaky on purpose; next try at "),
        "{failed}"
    );
    post(&server, "/dev/time/advance", &json!({ "duration": "1h" }));
    let run = finished_run(&dev, &server, &event_id, "shop-welcome-user");
    assert_eq!(
        run["output"],
        json!({ "first_step": "handled u_flaky twice" }),
        "{run}"
    );
    let retried = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|st| st["op"] == "StepError")
        .expect("the failed attempt is on the run");
    assert_eq!(retried["error"]["message"], "flaky on purpose", "{run}");
    let run = run_to_completion(&dev, &server, user.clone(), "shop-welcome-user");
    assert_eq!(
        run["output"],
        json!({ "first_step": "handled u_1 twice" }),
        "{run}"
    );
    let steps: Vec<&str> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(steps.contains(&"second-step"), "{run}");
    assert!(
        !pid_alive(&first_pid),
        "the first build's process is still running"
    );

    // A new workflow file, made by the CLI: registered by the next build, and only one build
    // for the several files it writes.
    let mark = dev.seen();
    cargo_inngest(&project, &["make", "workflow", "Refund"]);
    dev.wait_for(mark, "shop-refund", 300);
    dev.settle();
    let after: Vec<String> = dev.lines.all().into_iter().skip(mark).collect();
    let builds = after.iter().filter(|l| l.contains("built in ")).count();
    assert_eq!(builds, 1, "one build for one make:\n{}", after.join("\n"));
    let run = run_to_completion(
        &dev,
        &server,
        json!({ "name": "shop/refund.requested", "data": { "id": "o_9" } }),
        "shop-refund",
    );
    assert_eq!(
        run["output"],
        json!({ "first_step": "handled o_9" }),
        "{run}"
    );

    // A compile error: reported, and the old build keeps serving.
    let mark = dev.seen();
    let config = project.join("src/inngest.rs");
    let good = std::fs::read_to_string(&config).expect("read");
    std::fs::write(&config, format!("{good}\nthis is not rust\n")).expect("write");
    dev.wait_for(mark, "build failed", 300);
    let failed_output = dev.output();
    assert!(
        failed_output.contains("src/inngest.rs"),
        "the error names the file:\n{failed_output}"
    );
    let run = run_to_completion(&dev, &server, user, "shop-welcome-user");
    assert_eq!(
        run["status"], "Completed",
        "the old build no longer serves: {run}"
    );

    // A crashing app is reported and waits for the next change, not restarted in a loop.
    std::fs::write(&config, &good).expect("write");
    dev.wait_for(mark, "serving the new build", 300);
    dev.settle();
    let main_rs = project.join("src/main.rs");
    let main_text = std::fs::read_to_string(&main_rs).expect("read");
    let mark = dev.seen();
    std::fs::write(
        &main_rs,
        main_text.replace("async fn serve() -> Result<(), Box<dyn std::error::Error>> {\n", "async fn serve() -> Result<(), Box<dyn std::error::Error>> {\n    if std::env::var(\"PORT\").is_ok() {\n        return Err(\"crashed on purpose\".into());\n    }\n"),
    )
    .expect("write");
    dev.wait_for(mark, "restarts on the next change", 300);
    std::thread::sleep(Duration::from_millis(1500));
    // Every start follows a change: none comes from the crash itself.
    let after: Vec<String> = dev.lines.all().into_iter().skip(mark).collect();
    let starts = after.iter().filter(|l| l.contains("(pid ")).count();
    let changes = after.iter().filter(|l| l.contains("changed: ")).count();
    assert!(
        starts >= 1 && starts <= changes,
        "the crashing app was restarted without a change:\n{}",
        after.join("\n")
    );
    let mark = dev.seen();
    std::fs::write(&main_rs, &main_text).expect("write");
    dev.wait_for(mark, "serving the new build", 300);

    // SIGTERM: exit 0, and nothing it started is left.
    let last_pid = dev
        .output()
        .lines()
        .rfind(|l| l.contains("(pid "))
        .map(pid_in)
        .expect("an app pid");
    let status = dev.terminate();
    assert!(status.success(), "exit status {status:?}\n{}", dev.output());
    assert!(
        !pid_alive(&last_pid),
        "the app (pid {last_pid}) outlived dev"
    );
    let leftovers = Command::new("pgrep")
        .args(["-f", &project.display().to_string()])
        .output()
        .expect("pgrep");
    assert!(
        leftovers.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
}

/// A stand-in `inngest` on PATH: records its arguments, then serves as a dev server on the port
/// it was given (our own, so the app really syncs and runs). `fail` makes it exit at once.
fn stand_in(dir: &Path, fail: bool) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let script = bin.join("inngest");
    let body = if fail {
        "echo \"stand-in inngest: cannot start\" >&2\nexit 3\n".to_string()
    } else {
        format!(
            "port=8288\nwhile [ $# -gt 0 ]; do case \"$1\" in -p|--port) port=\"$2\"; shift;; esac; shift; done\nexec {} inngest dev-server --port \"$port\"\n",
            env!("CARGO_BIN_EXE_cargo-inngest")
        )
    };
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\n{body}",
            dir.join("args.txt").display()
        ),
    )
    .expect("write");
    let mut perms = std::fs::metadata(&script).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).expect("chmod");
    bin
}

/// The pid of the stand-in's dev server on `port` (`… dev-server --port <port>`), from `/proc`.
fn official_pid(port: &str) -> Option<String> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let serves = args.windows(2).any(|w| w[0] == "dev-server")
            && args.windows(2).any(|w| w[0] == "--port" && w[1] == port);
        serves.then(|| e.file_name().to_string_lossy().into_owned())
    })
}

#[test]
fn the_official_server_is_run_with_the_app_url_and_auto_falls_back_when_it_fails() {
    let (tmp, project) = scratch_project();
    let works = tmp.path().join("works");
    let bin = stand_in(&works, false);
    let mut dev = Dev::start(&project, &["--server", "official"], Some(&bin));
    dev.wait_for(0, "official dev server on", 120);
    let server = dev.server();
    dev.wait_for(0, "has no clock API", 60);
    dev.wait_for(0, "serving shop: ready", 1200);
    let args = std::fs::read_to_string(works.join("args.txt")).expect("the stand-in ran");
    let app_url = dev.app_url();
    assert_eq!(
        args.trim(),
        format!(
            "dev -u {app_url} --no-discovery -p {}",
            server.rsplit(':').next().unwrap_or_default()
        )
    );
    let run = run_to_completion(
        &dev,
        &server,
        json!({ "name": "user/user.created", "data": { "id": "u_2" } }),
        "shop-welcome-user",
    );
    assert_eq!(run["status"], "Completed", "{run}");

    // The official server dies while `dev` runs: `dev` says so and stops, with an error,
    // instead of going on against nothing.
    let port = server.rsplit(':').next().unwrap_or_default().to_string();
    let official = official_pid(&port).expect("the stand-in's server process");
    let killed = Command::new("kill")
        .args(["-KILL", &official])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let said = dev.wait_for(0, "error: the official dev server exited", 30);
    assert!(said.contains("signal: 9"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = dev.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "dev went on:\n{}", dev.output());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "{status:?}");
    drop(dev);

    // It fails: `auto` says so and uses the embedded server; `official` refuses.
    let broken = tmp.path().join("broken");
    let bin = stand_in(&broken, true);
    let mut dev = Dev::start(&project, &["--server", "auto"], Some(&bin));
    let line = dev.wait_for(0, "the official dev server is unavailable", 60);
    assert!(line.contains("exited"), "{line}");
    // Its own last words are repeated with the reason.
    let said = dev.wait_for(0, "its last lines:", 5);
    assert!(said.contains("exited"), "{said}");
    dev.wait_for(0, "using the embedded one", 5);
    let output = dev.output();
    let reason_at = output
        .find("its last lines:")
        .expect("the reason is printed");
    assert!(
        output[reason_at..].contains("stand-in inngest: cannot start"),
        "{output}"
    );
    let line = dev.wait_for(0, "embedded dev server on", 10);
    url_after(&line, " dev server on ");
    dev.wait_for(0, "serving shop: ready", 300);
    assert!(dev.terminate().success());
    drop(dev);

    let out = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .args(["inngest", "dev", "--server", "official", "--port", "0"])
        .current_dir(&project)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the official dev server did not start"),
        "{err}"
    );
}

#[test]
fn a_taken_port_is_refused_saying_the_os_error_once() {
    let (_tmp, project) = scratch_project();
    let (taken, port, os_error) = common::taken_port();
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-inngest"))
        .args(["inngest", "dev", "--server", "embedded", "--port"])
        .arg(port.to_string())
        .current_dir(&project)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "the embedded dev server did not start: cannot listen on 127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert_eq!(
        err.matches(&os_error).count(),
        1,
        "{os_error:?} once in:\n{err}"
    );
    drop(taken);
}

/// `examples/shop` as the README runs it, under `dev` with the embedded server: `POST /users`
/// starts `welcome-user` (its 3-day sleep skipped by moving the clock), `process-order`
/// invokes `send-email`, and `daily-report` runs on its cron tick.
#[test]
fn the_shop_example_runs_its_workflows_under_dev() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The workspace's own target directory: the example is a member, built already.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut dev = Dev::start_with_target(
        &root.join("examples/shop"),
        &["--server", "embedded"],
        None,
        &target,
    );
    dev.wait_for(0, "serving shop: ready", 1200);
    let server = dev.server();
    let app = dev.app_url().trim_end_matches("/api/inngest").to_string();

    // POST /users: a bad address is refused before anything is sent; a good one starts a run.
    let (status, body) = post_with_status(&app, "/users", &json!({ "email": "not-an-address" }));
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("email")),
        "{body}"
    );
    let (status, body) = post_with_status(&app, "/users", &json!({ "email": "ada@example.com" }));
    assert_eq!(status, 201, "{body}");
    let event_id = body["event_id"].as_str().expect("an event id").to_string();
    assert_eq!(
        body["id"].as_str().map(str::len),
        Some(36),
        "a UUID: {body}"
    );
    wait_for_step(&server, &event_id, "wait-3-days");

    // Three days later, the follow-up.
    post(&server, "/dev/time/advance", &json!({ "duration": "3d" }));
    let run = finished_run(&dev, &server, &event_id, "shop-welcome-user");
    assert_eq!(run["status"], "Completed", "{run}");
    let steps: Vec<&str> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for step in ["send-welcome-email", "wait-3-days", "send-followup-email"] {
        assert!(steps.contains(&step), "{step} in {run}");
    }

    // An order: charged in parallel with the stock, and the receipt sent by `send-email`.
    let order = json!({
        "name": "shop/order.placed",
        "data": { "order_id": "o_1", "email": "ada@example.com", "total_cents": 1999 },
    });
    let run = run_to_completion(&dev, &server, order, "shop-process-order");
    assert_eq!(run["status"], "Completed", "{run}");
    assert_eq!(run["output"]["charge_id"], "ch_o_1", "{run}");
    assert!(
        run["output"]["receipt"]
            .as_str()
            .is_some_and(|r| r.starts_with("msg-")),
        "{run}"
    );
    dev.wait_for(0, "shop-send-email Completed", 30);

    // The next 09:00 UTC: the report.
    post(&server, "/dev/time/advance", &json!({ "duration": "1d" }));
    let report = dev.wait_for(0, "shop-daily-report Completed", 30);
    assert!(report.contains("e-mails sent"), "{report}");

    assert!(dev.terminate().success(), "{}", dev.output());
}

/// `examples/shop`'s connect worker (`--bin shop-worker`) under `dev`: it reaches the gateway,
/// every function shows `connect (ws)`, and the `--send` event's run completes over the socket.
#[test]
fn the_shop_example_runs_as_a_connect_worker_under_dev() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut dev = Dev::start_with_target(
        &root.join("examples/shop"),
        &[
            "--server",
            "embedded",
            "--bin",
            "shop-worker",
            "--send",
            r#"{"name":"shop/hello.requested","data":{"id":"Ada"}}"#,
        ],
        None,
        &target,
    );
    dev.wait_for(0, "serving shop: ready", 1200);
    dev.wait_for(0, "connected to the dev server's gateway", 1);
    for function in ["shop-hello", "shop-welcome-user", "shop-daily-report"] {
        let row = dev.wait_for(0, &format!("dev │ {function} "), 1);
        assert!(row.contains("connect (ws)"), "{row}");
    }
    let done = dev.wait_for(0, "shop-hello Completed", 30);
    assert!(done.contains("\"Hello, Ada!\""), "{done}");
    // The line links to the run's page on the dashboard; the trace it draws has the output.
    let link = done
        .rsplit('(')
        .next()
        .map(|l| l.trim_end_matches(')').trim().to_string())
        .expect("a link");
    assert!(link.contains("/runs/"), "{done}");
    let (page, trace) = block_on(async {
        let page = reqwest::get(&link).await.expect("the run page answers");
        let trace_url = link.replacen("/runs/", "/v1/runs/", 1) + "/trace";
        let trace: serde_json::Value = reqwest::get(&trace_url)
            .await
            .expect("the trace answers")
            .json()
            .await
            .expect("JSON");
        (page.text().await.expect("text"), trace)
    });
    assert!(page.contains("/assets/dashboard.js"), "{page}");
    assert_eq!(trace["data"]["run"]["output"], "Hello, Ada!", "{trace}");
    assert!(dev.terminate().success(), "{}", dev.output());
    let output = dev.output();
    // The state watch may coalesce Paused into Closed; the line after `run_until` says the
    // graceful stop (pause, drain, close) went all the way.
    assert!(
        output.contains("the connect worker stopped"),
        "the worker stopped gracefully on SIGTERM:\n{output}"
    );
}

/// The workflow's first step, extended with a step that waits for `gate` to exist, tagged
/// `version` in its output.
fn gated_workflow(text: &str, gate: &Path, version: &str) -> String {
    let edited = text.replace(
        "        Ok(WelcomeUserOutput { first_step })",
        &format!(
            "        let gate = std::path::PathBuf::from({gate:?});\n        let first_step = ctx\n            .step\n            .run(\"gated-step\", async {{\n                tracing::info!(\"gated step started\");\n                tokio::task::spawn_blocking(move || {{\n                    while !gate.exists() {{\n                        std::thread::sleep(std::time::Duration::from_millis(20));\n                    }}\n                }})\n                .await?;\n                Ok(format!(\"{{first_step}} gated {version}\"))\n            }})\n            .await?;\n        Ok(WelcomeUserOutput {{ first_step }})"
        ),
    );
    assert_ne!(edited, text);
    edited
}

/// A project configured with `--transport connect` under `dev`: its worker connects to the
/// embedded server's gateway (`connect (ws)`), runs complete, and a new build swaps in without
/// losing a run in flight: the new worker connects while the old one finishes its step, which
/// runs once, and the old one then exits.
#[test]
fn a_connect_worker_runs_under_dev_and_swaps_builds_without_losing_a_run() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let project = common::configured_shop_with(tmp.path(), &["--transport", "connect"]);
    let mut dev = Dev::start(&project, &["--server", "embedded"], None);
    let row = dev.wait_for(0, "shop-welcome-user", 1200);
    assert!(row.contains("connect (ws)"), "{row}");
    dev.wait_for(0, "connected to the dev server's gateway", 5);
    dev.wait_for(0, "serving shop: ready", 60);
    let server = dev.server();
    let user = json!({ "name": "user/user.created", "data": { "id": "u_1" } });
    let run = run_to_completion(&dev, &server, user, "shop-welcome-user");
    assert_eq!(
        run["output"],
        json!({ "first_step": "handled u_1" }),
        "{run}"
    );

    let gate = tmp.path().join("gate");
    let wf = project.join("src/workflows/welcome_user_workflow.rs");
    let original = std::fs::read_to_string(&wf).expect("read");
    let mark = dev.seen();
    std::fs::write(&wf, gated_workflow(&original, &gate, "v2")).expect("write");
    dev.wait_for(mark, "serving the new build", 300);
    let second_pid = pid_in(&dev.wait_for(mark, "connected to the dev server's gateway (pid ", 5));

    // A run waits in the gated step of build 2 while build 3 is made and swapped in.
    let mark = dev.seen();
    let id = send_event(
        &server,
        &json!({ "name": "user/user.created", "data": { "id": "u_2" } }),
    );
    dev.wait_for(mark, "gated step started", 30);
    std::fs::write(&wf, gated_workflow(&original, &gate, "v3")).expect("write");
    dev.wait_for(mark, "serving the new build", 300);
    let draining = dev.wait_for(mark, "finishes its in-flight work", 5);
    assert!(
        draining.contains(&format!("(pid {second_pid})")),
        "{draining}"
    );
    assert!(
        pid_alive(&second_pid),
        "the old build stopped before its step finished"
    );

    std::fs::write(&gate, "").expect("the gate opens");
    let run = finished_run(&dev, &server, &id, "shop-welcome-user");
    assert_eq!(run["status"], "Completed", "{run}");
    assert_eq!(
        run["output"],
        json!({ "first_step": "handled u_2 gated v2" }),
        "the step finished on the build it started on: {run}"
    );
    dev.wait_for(
        mark,
        &format!("the previous build (pid {second_pid}) exited"),
        30,
    );
    let started = dev
        .output()
        .lines()
        .skip(mark)
        .filter(|l| l.contains("gated step started"))
        .count();
    assert_eq!(started, 1, "the gated step ran once:\n{}", dev.output());

    // The new build runs the next one.
    let run = run_to_completion(
        &dev,
        &server,
        json!({ "name": "user/user.created", "data": { "id": "u_3" } }),
        "shop-welcome-user",
    );
    assert_eq!(
        run["output"],
        json!({ "first_step": "handled u_3 gated v3" }),
        "{run}"
    );
    let status = dev.terminate();
    assert!(status.success(), "{status:?}\n{}", dev.output());
}
