//! `configure`, `make workflow`, `make event` and `list` on real starting projects: every
//! generated and edited file is snapshotted (insta), the result is compiled with `cargo check`,
//! and every bad input leaves every file byte-for-byte as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{cargo_inngest, cargo_new, ok};

mod common;

/// A scratch directory removed at the end.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Self(tempfile::tempdir().expect("a temp dir"))
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
}

fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every file under `dir` (but `target/` and lock files) with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable").flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name == "target" || name == "Cargo.lock" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).expect("inside").to_path_buf(),
                    std::fs::read(&p).expect("read"),
                );
            }
        }
    }
    out
}

/// The files that differ between two trees, as one text for a snapshot.
fn changed(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) -> String {
    let mut out = String::new();
    for (path, bytes) in after {
        if before.get(path) != Some(bytes) {
            out.push_str(&format!(
                "===== {} =====\n{}\n",
                path.display(),
                String::from_utf8_lossy(bytes)
            ));
        }
    }
    out
}

/// configure, then make workflow (event and cron) and make event, snapshotting each stage.
fn scaffold_and_snapshot(project: &Path, name: &str, extra: &[&str]) {
    let t0 = tree(project);
    let mut args = vec!["configure", "--runtime-version", "0.1"];
    args.extend_from_slice(extra);
    ok(&cargo_inngest(project, &args));
    let t1 = tree(project);
    insta::assert_snapshot!(format!("{name}-configure"), changed(&t0, &t1));

    let again = ok(&cargo_inngest(project, &args));
    assert!(again.contains("Nothing to change"), "{again}");
    assert_eq!(tree(project), t1, "a second configure changed files");

    let mut make = vec![
        "make",
        "workflow",
        "WelcomeUser",
        "--event",
        "user/user.created",
    ];
    make.extend_from_slice(extra);
    ok(&cargo_inngest(project, &make));
    let mut make = vec![
        "make",
        "workflow",
        "daily_digest",
        "--cron",
        "TZ=Europe/Paris 0 9 * * 1-5",
    ];
    make.extend_from_slice(extra);
    ok(&cargo_inngest(project, &make));
    let mut make = vec![
        "make",
        "event",
        "order-placed",
        "--event-name",
        "shop/order.placed",
    ];
    make.extend_from_slice(extra);
    ok(&cargo_inngest(project, &make));
    let t2 = tree(project);
    insta::assert_snapshot!(format!("{name}-make"), changed(&t1, &t2));

    let mut list = vec!["list"];
    list.extend_from_slice(extra);
    insta::assert_snapshot!(format!("{name}-list"), ok(&cargo_inngest(project, &list)));
}

#[test]
fn a_fresh_binary() {
    let s = Scratch::new();
    cargo_new(s.path(), "shop", false);
    scaffold_and_snapshot(&s.path().join("shop"), "fresh-bin", &[]);
}

#[test]
fn a_library() {
    let s = Scratch::new();
    cargo_new(s.path(), "billing-core", true);
    scaffold_and_snapshot(&s.path().join("billing-core"), "library", &[]);
}

#[test]
fn an_axum_app_with_comments_and_unsorted_dependencies() {
    let s = Scratch::new();
    s.write(
        "api/Cargo.toml",
        "[package]\nname = \"api\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\n# Web stack, in the order we added it.\n[dependencies]\ntokio = { version = \"1\", features = [\"full\"] } # runtime\naxum = \"0.8\"\n# serialization\nserde_json = \"1\"\n\n[dev-dependencies]\nreqwest = \"0.12\"\n",
    );
    s.write(
        "api/src/main.rs",
        "//! The API.\n\nmod routes;\n\n#[tokio::main]\nasync fn main() {\n    routes::serve().await;\n}\n",
    );
    s.write("api/src/routes.rs", "pub async fn serve() {}\n");
    scaffold_and_snapshot(&s.path().join("api"), "axum-app", &[]);
}

#[test]
fn a_workspace_member_with_inherited_dependencies() {
    let s = Scratch::new();
    s.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n\n[workspace.dependencies]\nserde = { version = \"1.0.200\", features = [\"derive\"] }\ntokio = \"1.40\"\n",
    );
    s.write(
        "crates/jobs/Cargo.toml",
        "[package]\nname = \"jobs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nserde.workspace = true\n",
    );
    s.write("crates/jobs/src/lib.rs", "//! Background jobs.\n");
    s.write(
        "crates/web/Cargo.toml",
        "[package]\nname = \"web\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    s.write("crates/web/src/main.rs", "fn main() {}\n");
    // From the workspace root, with -p.
    let before_web = tree(&s.path().join("crates/web"));
    scaffold_and_snapshot(s.path(), "workspace-member", &["-p", "jobs"]);
    assert_eq!(
        tree(&s.path().join("crates/web")),
        before_web,
        "another member was touched"
    );
}

/// The whole flow on a fresh project, compiled: zero warnings.
#[test]
fn generated_code_compiles_without_warnings() {
    let s = Scratch::new();
    let project = common::configured_shop(s.path());
    ok(&cargo_inngest(
        &project,
        &["make", "workflow", "nightly-report", "--cron", "0 3 * * *"],
    ));
    ok(&cargo_inngest(&project, &["make", "workflow", "ShipOrder"]));
    ok(&cargo_inngest(
        &project,
        &["make", "event", "OrderCancelled"],
    ));
    // On an event the user already has: its test cannot know the event's fields.
    ok(&cargo_inngest(
        &project,
        &[
            "make",
            "workflow",
            "AuditUser",
            "--event",
            "user/user.created",
        ],
    ));
    // On an event the user wrote by hand, with no `id` field: the workflow must not read one.
    std::fs::write(
        project.join("src/events/order_shipped.rs"),
        "use inngest_runtime::Event;\nuse serde::{Deserialize, Serialize};\n\n\
         #[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]\n\
         pub struct OrderShipped {\n    #[garde(range(min = 1))]\n    pub parcels: u32,\n}\n\n\
         impl Event for OrderShipped {\n    const NAME: &'static str = \"shop/order.shipped\";\n}\n",
    )
    .expect("write");
    let events_mod = project.join("src/events/mod.rs");
    let text = std::fs::read_to_string(&events_mod).expect("events/mod.rs");
    std::fs::write(
        &events_mod,
        format!("{text}mod order_shipped;\npub use order_shipped::OrderShipped;\n"),
    )
    .expect("write");
    ok(&cargo_inngest(
        &project,
        &[
            "make",
            "workflow",
            "Deliver",
            "--event",
            "shop/order.shipped",
        ],
    ));
    assert_checks_without_warnings(&project);
    // The tests `make workflow` wrote pass as generated, on the in-process test engine; the
    // two on events the user has (AuditUser's, Deliver's) are ignored until they build them.
    let tests = Command::new(env!("CARGO"))
        .args(["test", "--offline", "-q"])
        .env("CARGO_TARGET_DIR", common::scratch_target_dir())
        .current_dir(&project)
        .output()
        .expect("cargo test runs");
    let stdout = String::from_utf8_lossy(&tests.stdout);
    assert!(
        tests.status.success(),
        "cargo test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&tests.stderr)
    );
    assert!(
        stdout.contains("test result: ok. 3 passed; 0 failed; 2 ignored"),
        "{stdout}"
    );
    // A startup error reads as a message with its causes, and the exit code says it failed.
    let run = Command::new(env!("CARGO"))
        .args(["run", "--offline", "-q"])
        .env("CARGO_TARGET_DIR", common::scratch_target_dir())
        .env("PORT", "not-a-port")
        .env("INNGEST_DEV", "http://127.0.0.1:9")
        .current_dir(&project)
        .output()
        .expect("cargo run runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: invalid digit found in string")
            && !stderr.contains("ParseIntError"),
        "not a readable startup error:\n{stderr}"
    );
    // It reads `.env`; the environment wins over it. Without keys and without INNGEST_DEV it
    // says at once that it is in cloud mode and what is missing.
    std::fs::write(project.join(".env"), "PORT=also-not-a-port\n").expect("write .env");
    let run = Command::new(env!("CARGO"))
        .args(["run", "--offline", "-q"])
        .env("CARGO_TARGET_DIR", common::scratch_target_dir())
        .env_remove("PORT")
        .env_remove("INNGEST_DEV")
        .env_remove("INNGEST_SIGNING_KEY")
        .env_remove("INNGEST_EVENT_KEY")
        .current_dir(&project)
        .output()
        .expect("cargo run runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "PORT from .env:\n{stderr}");
    assert!(
        stderr.contains("error: invalid digit found in string"),
        "{stderr}"
    );
    std::fs::write(project.join(".env"), "PORT=0\n").expect("write .env");
    // The binary itself, not `cargo run`, so that killing it leaves nothing behind.
    let mut app = Command::new(common::scratch_target_dir().join("debug/shop"))
        .env_remove("PORT")
        .env_remove("INNGEST_DEV")
        .env_remove("INNGEST_SIGNING_KEY")
        .env_remove("INNGEST_EVENT_KEY")
        .current_dir(&project)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cargo run starts");
    let lines = common::Lines::of(&mut app);
    let warning = lines.wait_for(0, "cloud mode", 60);
    assert!(
        warning.contains("WARN")
            && warning.contains("INNGEST_SIGNING_KEY and INNGEST_EVENT_KEY")
            && warning.contains("INNGEST_DEV=1"),
        "{warning}"
    );
    lines.wait_for(0, "serving Inngest workflows on http://127.0.0.1:", 10);
    let _ = app.kill();
    let _ = app.wait();
    std::fs::remove_file(project.join(".env")).expect("remove .env");
    // And it is formatted as rustfmt would.
    assert_rustfmt_clean(&project);
}

#[test]
fn a_named_runtime_source_replaces_the_old_one() {
    let s = Scratch::new();
    common::cargo_new(s.path(), "shop", false);
    let shop = s.path().join("shop");
    let manifest = shop.join("Cargo.toml");
    let runtime_line = || {
        std::fs::read_to_string(&manifest)
            .expect("Cargo.toml")
            .lines()
            .find(|l| l.starts_with("inngest-runtime"))
            .expect("an inngest-runtime line")
            .to_string()
    };
    let out = ok(&cargo_inngest(
        &shop,
        &["configure", "--runtime-version", "0.1"],
    ));
    assert!(
        out.contains(
            "added dependency inngest-runtime: version \"0.1\" from crates.io (--runtime-version)"
        ),
        "{out}"
    );
    assert_eq!(runtime_line(), "inngest-runtime = \"0.1\"");

    // A new source replaces the old one, generated files are kept.
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/inngest-runtime");
    let checkout = checkout.to_str().expect("a UTF-8 path");
    let out = ok(&cargo_inngest(
        &shop,
        &["configure", "--runtime-path", checkout],
    ));
    assert!(
        out.contains("changed dependency inngest-runtime from `\"0.1\"` to path "),
        "{out}"
    );
    assert!(
        runtime_line().starts_with("inngest-runtime = { path = \""),
        "{}",
        runtime_line()
    );
    assert!(
        runtime_line().ends_with("crates/inngest-runtime\" }"),
        "{}",
        runtime_line()
    );
    let again = ok(&cargo_inngest(
        &shop,
        &["configure", "--runtime-path", checkout, "--force"],
    ));
    assert!(again.contains("Nothing to change"), "{again}");

    let out = ok(&cargo_inngest(
        &shop,
        &[
            "configure",
            "--runtime-git",
            "https://example.invalid/cargo-inngest.git",
            "--tag",
            "v0.1.0",
        ],
    ));
    assert!(
        out.contains("to git https://example.invalid/cargo-inngest.git (tag v0.1.0)"),
        "{out}"
    );
    assert_eq!(
        runtime_line(),
        "inngest-runtime = { git = \"https://example.invalid/cargo-inngest.git\", tag = \"v0.1.0\" }"
    );

    // No named source: the entry is the user's, and configure says how to change it.
    let out = ok(&cargo_inngest(&shop, &["configure"]));
    assert!(out.contains("Nothing to change"), "{out}");
    assert!(
        out.contains("kept dependency inngest-runtime = { git ="),
        "{out}"
    );

    refused(
        &shop,
        &["configure", "--runtime-path", "/nonexistent"],
        &["no Cargo.toml there"],
    );
    refused(&shop, &["configure", "--rev", "abc"], &["--runtime-git"]);
    // Sources cargo could not read are refused before anything is written.
    refused(
        &shop,
        &["configure", "--runtime-version", "nope"],
        &["--runtime-version \"nope\" is not a version requirement"],
    );
    refused(
        &shop,
        &["configure", "--runtime-git", "not a url"],
        &["--runtime-git \"not a url\" is not a URL"],
    );
    // A runtime without the test engine beside it (a copy of the crate alone).
    let lone = s.path().join("vendor/inngest-runtime");
    std::fs::create_dir_all(&lone).expect("mkdir");
    std::fs::write(
        lone.join("Cargo.toml"),
        "[package]\nname = \"inngest-runtime\"\nversion = \"0.1.0\"\n",
    )
    .expect("write");
    refused(
        &shop,
        &[
            "configure",
            "--runtime-path",
            lone.to_str().expect("a UTF-8 path"),
        ],
        &["the test engine (inngest-devserver) is expected beside it"],
    );
    refused(
        &shop,
        &[
            "configure",
            "--runtime-path",
            checkout,
            "--runtime-version",
            "0.1",
        ],
        &["cannot be used with"],
    );
}

/// Runs a command that must fail, and checks its message and that nothing changed.
fn refused(dir: &Path, args: &[&str], needles: &[&str]) {
    let before = tree(dir);
    let err = fails(&cargo_inngest(dir, args));
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
    assert_eq!(tree(dir), before, "{args:?} changed files");
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let s = Scratch::new();

    // A package on edition 2015 (no `edition` key): the generated code would not compile.
    s.write(
        "old/Cargo.toml",
        "[package]\nname = \"old\"\nversion = \"0.1.0\"\n",
    );
    s.write("old/src/main.rs", "fn main() {}\n");
    refused(
        &s.path().join("old"),
        &["configure"],
        &["is on edition 2015", "needs edition 2021 or later"],
    );

    // An unparsable Cargo.toml.
    s.write("broken/Cargo.toml", "[package\nname = \"broken\"\n");
    s.write("broken/src/main.rs", "fn main() {}\n");
    refused(
        &s.path().join("broken"),
        &["configure"],
        &["Cargo.toml", "not valid TOML"],
    );

    // Not a Rust project at all.
    s.write("notes/README.md", "hello\n");
    let notes = s.path().join("notes");
    // The temp dir may sit under a Cargo project of its own; point at a missing manifest.
    refused(
        &notes,
        &["configure", "--manifest-path", "Cargo.toml"],
        &["Cargo.toml does not exist"],
    );

    // Without --manifest-path, when no parent directory holds a Cargo.toml either.
    if !notes.ancestors().any(|d| d.join("Cargo.toml").exists()) {
        refused(
            &notes,
            &["configure"],
            &["no Cargo.toml in", "--manifest-path"],
        );
    }

    // A package that is not there.
    cargo_new(s.path(), "shop", false);
    let shop = s.path().join("shop");
    refused(
        &shop,
        &["configure", "-p", "nope"],
        &["no package \"nope\"", "shop"],
    );

    // Make before configure.
    refused(
        &shop,
        &["make", "workflow", "WelcomeUser"],
        &["cargo inngest configure"],
    );

    // A read-only Cargo.toml: nothing at all is written, not even the new files.
    let manifest = shop.join("Cargo.toml");
    let mut perms = std::fs::metadata(&manifest).expect("meta").permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&manifest, perms.clone()).expect("chmod");
    refused(
        &shop,
        &["configure"],
        &["Cargo.toml is read-only", "nothing was changed"],
    );
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&manifest, perms).expect("chmod");

    // A dry run prints the diff and writes nothing.
    let before = tree(&shop);
    let diff = ok(&cargo_inngest(&shop, &["configure", "--dry-run"]));
    assert!(diff.contains("+++ b/src/inngest.rs"), "{diff}");
    assert!(
        diff.contains("+inngest-runtime = { path = \"")
            && diff.contains("crates/inngest-runtime\""),
        "{diff}"
    );
    assert_eq!(tree(&shop), before);

    ok(&cargo_inngest(&shop, &["configure"]));
    // Names that are not identifiers.
    for bad in ["123", "fn", "a b", "struct"] {
        refused(&shop, &["make", "workflow", bad], &["is not a usable name"]);
    }
    // A bad schedule and a bad event name.
    refused(
        &shop,
        &["make", "workflow", "Nightly", "--cron", "61 * * * *"],
        &["--cron", "61 * * * *"],
    );
    refused(
        &shop,
        &["make", "workflow", "Nightly", "--event", "has space"],
        &["event name"],
    );
    // Event types that would clash with what the generated code imports or defines, or a
    // module that would shadow a crate.
    for (event, says) in [
        ("app/context", "the generated code already uses that name"),
        ("app/result", "the generated code already uses that name"),
        ("app/nightly-output", "may not end in Workflow or Output"),
    ] {
        refused(
            &shop,
            &["make", "workflow", "Nightly", "--event", event],
            &[says],
        );
    }
    refused(&shop, &["make", "event", "Core"], &["would shadow a crate"]);
    // A type of that name written by hand in another file.
    std::fs::write(
        shop.join("src/events/custom.rs"),
        "use inngest_runtime::Event;\n\npub struct Parcel {}\n\nimpl Event for Parcel {\n    const NAME: &'static str = \"shop/parcel\";\n}\n",
    )
    .expect("write");
    refused(
        &shop,
        &[
            "make",
            "event",
            "Parcel",
            "--event-name",
            "shop/parcel.sent",
        ],
        &["an event type Parcel already exists in src/events/custom.rs"],
    );
    std::fs::remove_file(shop.join("src/events/custom.rs")).expect("rm");
    // Twice the same workflow.
    ok(&cargo_inngest(&shop, &["make", "workflow", "WelcomeUser"]));
    refused(
        &shop,
        &["make", "workflow", "welcome-user"],
        &["already there", "--force"],
    );
    let forced = ok(&cargo_inngest(
        &shop,
        &["make", "workflow", "welcome_user", "--force"],
    ));
    assert!(
        forced.contains("Made workflow WelcomeUserWorkflow"),
        "{forced}"
    );
    // The registration line is gone: the user is told what to add, and nothing changes.
    let config = shop.join("src/inngest.rs");
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(
        &config,
        text.replace(
            "// `cargo inngest make workflow` registers new workflows above this line.\n",
            "",
        ),
    )
    .expect("write");
    refused(
        &shop,
        &["make", "workflow", "Refund"],
        &[
            "src/inngest.rs",
            ".register(crate::workflows::RefundWorkflow::default())",
        ],
    );
    // An event name that another type already has.
    refused(
        &shop,
        &[
            "make",
            "event",
            "Other",
            "--event-name",
            "shop/welcome-user.requested",
        ],
        &["already the event WelcomeUserRequested"],
    );
}

#[test]
fn a_project_can_override_a_template() {
    let s = Scratch::new();
    cargo_new(s.path(), "shop", false);
    let shop = s.path().join("shop");
    ok(&cargo_inngest(&shop, &["configure"]));
    let ours = include_str!("../templates/workflow.rs.tera");
    s.write(
        "shop/.inngest/templates/workflow.rs.tera",
        &format!("// House style: every workflow is reviewed by the platform team.\n{ours}"),
    );
    ok(&cargo_inngest(&shop, &["make", "workflow", "Refund"]));
    let made =
        std::fs::read_to_string(shop.join("src/workflows/refund_workflow.rs")).expect("made");
    assert!(made.starts_with("// House style"), "{made}");
    assert!(made.contains("pub struct RefundWorkflow"), "{made}");
    // A broken override is a clear error naming the template, and nothing is written.
    s.write("shop/.inngest/templates/event.rs.tera", "{% if %}");
    refused(&shop, &["make", "event", "Broken"], &["template event.rs"]);
}

/// `list` does not count a `.register(…)` that is commented out.
#[test]
fn a_commented_out_registration_is_not_listed_as_registered() {
    let s = Scratch::new();
    cargo_new(s.path(), "shop", false);
    let project = s.path().join("shop");
    ok(&cargo_inngest(&project, &["configure"]));
    ok(&cargo_inngest(
        &project,
        &[
            "make",
            "workflow",
            "WelcomeUser",
            "--event",
            "user/user.created",
        ],
    ));
    let config = project.join("src/inngest.rs");
    let text = std::fs::read_to_string(&config).expect("src/inngest.rs");
    let line = ".register(crate::workflows::WelcomeUserWorkflow::default())";
    assert!(text.contains(line), "{text}");
    std::fs::write(&config, text.replace(line, &format!("// {line}"))).expect("written");
    let listed = ok(&cargo_inngest(&project, &["list"]));
    let welcome = listed
        .lines()
        .find(|l| l.contains("WelcomeUser"))
        .unwrap_or_default()
        .to_string();
    assert!(
        welcome.contains("not registered"),
        "a commented-out registration is listed as registered:\n{listed}"
    );
}

/// `configure --transport connect` on a fresh project: a main that runs a connect worker and no
/// HTTP server, which compiles with zero warnings and is rustfmt-clean.
#[test]
fn a_connect_worker_app_compiles_without_warnings() {
    let s = Scratch::new();
    common::cargo_new(s.path(), "worker", false);
    let project = s.path().join("worker");
    ok(&cargo_inngest(
        &project,
        &["configure", "--transport", "connect"],
    ));
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).expect("Cargo.toml");
    let runtime = manifest
        .lines()
        .find(|l| l.starts_with("inngest-runtime"))
        .expect("the runtime dependency");
    assert!(runtime.contains("\"connect\""), "{runtime}");
    assert!(!manifest.contains("\naxum"), "no HTTP server:\n{manifest}");
    assert!(manifest.contains("\"signal\""), "{manifest}");
    let main = std::fs::read_to_string(project.join("src/main.rs")).expect("main.rs");
    assert!(
        main.contains("inngest_runtime::connect::Worker::new(app)"),
        "{main}"
    );
    assert!(!main.contains("axum"), "{main}");
    // The settings of a worker, not of a server.
    let env = std::fs::read_to_string(project.join(".env.example")).expect(".env.example");
    for var in [
        "INNGEST_CONNECT_INSTANCE_ID",
        "INNGEST_CONNECT_MAX_WORKER_CONCURRENCY",
        "INNGEST_CONNECT_GATEWAY_URL",
    ] {
        assert!(env.contains(var), "{var} missing:\n{env}");
    }
    assert!(
        !env.contains("PORT="),
        "a worker listens on no port:\n{env}"
    );
    assert_checks_without_warnings(&project);
    assert_rustfmt_clean(&project);
}

/// `cargo check --all-targets` of `project` succeeds without a warning.
fn assert_checks_without_warnings(project: &Path) {
    let out = Command::new(env!("CARGO"))
        .args([
            "check",
            "--offline",
            "--all-targets",
            "--message-format=short",
        ])
        .env("CARGO_TARGET_DIR", common::scratch_target_dir())
        .current_dir(project)
        .output()
        .expect("cargo check runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo check failed:\n{stderr}");
    assert!(!stderr.contains("warning"), "warnings:\n{stderr}");
}

/// `project` is formatted as rustfmt would.
fn assert_rustfmt_clean(project: &Path) {
    let fmt = Command::new(env!("CARGO"))
        .args(["fmt", "--check"])
        .current_dir(project)
        .output()
        .expect("cargo fmt runs");
    assert!(
        fmt.status.success(),
        "not rustfmt-clean:\n{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
}

/// `configure --force` renders its files again, and keeps what `make` added to them; modules
/// the user wrote get the sample's export added; a file-style module is refused.
#[test]
fn configure_force_keeps_what_make_added_and_user_modules_are_respected() {
    let s = Scratch::new();
    cargo_new(s.path(), "shop", false);
    let shop = s.path().join("shop");
    ok(&cargo_inngest(&shop, &["configure"]));
    ok(&cargo_inngest(&shop, &["make", "workflow", "Refund"]));
    let read = |p: &str| std::fs::read_to_string(shop.join(p)).expect("a file");
    let before = (
        read("src/inngest.rs"),
        read("src/workflows/mod.rs"),
        read("src/events/mod.rs"),
    );
    assert!(
        before
            .0
            .contains(".register(crate::workflows::RefundWorkflow::default())")
    );
    let out = ok(&cargo_inngest(&shop, &["configure", "--force"]));
    assert!(out.contains("Nothing to change"), "{out}");
    assert_eq!(
        (
            read("src/inngest.rs"),
            read("src/workflows/mod.rs"),
            read("src/events/mod.rs"),
        ),
        before,
        "--force dropped what make added"
    );

    // A project with its own events module: configure adds its sample to it.
    cargo_new(s.path(), "own", false);
    let own = s.path().join("own");
    std::fs::create_dir_all(own.join("src/events")).expect("mkdir");
    std::fs::write(own.join("src/events/mod.rs"), "//! Mine.\n").expect("write");
    ok(&cargo_inngest(&own, &["configure"]));
    assert_eq!(
        std::fs::read_to_string(own.join("src/events/mod.rs")).expect("read"),
        "//! Mine.\n\npub mod hello_requested;\npub use hello_requested::HelloRequested;\n"
    );

    // A manifest path with `..` in it, from a sibling folder.
    let listed = ok(&cargo_inngest(
        &own,
        &["list", "--manifest-path", "../shop/Cargo.toml"],
    ));
    assert!(listed.contains("shop-refund"), "{listed}");

    // A file-style module where configure writes a folder one.
    cargo_new(s.path(), "flat", false);
    let flat = s.path().join("flat");
    std::fs::write(flat.join("src/events.rs"), "// mine\n").expect("write");
    refused(
        &flat,
        &["configure"],
        &["src/events.rs exists", "move yours to src/events/mod.rs"],
    );
}
