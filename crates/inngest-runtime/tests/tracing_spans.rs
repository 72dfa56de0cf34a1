//! What a workflow logs carries its run and its step: the runtime's `run` and `step` spans,
//! seen through a real `tracing-subscriber` formatter.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Request;
use inngest_runtime::config::Config;
use inngest_runtime::serve::ServeHandler;
use inngest_runtime::{App, Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Ping {
    #[garde(skip)]
    n: u32,
}
impl Event for Ping {
    const NAME: &'static str = "test/ping";
}

struct Chatty;
impl Workflow for Chatty {
    type Event = Ping;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("chatty")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        tracing::info!("before the step");
        let n = ctx.event.data.n;
        ctx.step
            .run("count", async {
                tracing::info!(n, "inside the step");
                Ok(n + 1)
            })
            .await
    }
}

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_line_inside_a_step_names_its_run_function_step_and_attempt() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = App::builder(Inngest::with_config(
        "logs",
        Config::dev("http://127.0.0.1:9"),
    ))
    .register(Chatty)
    .build()
    .expect("the app builds");
    let handler = ServeHandler::new(app);
    let event = json!({ "name": Ping::NAME, "data": { "n": 41 }, "id": "01EVT", "ts": 1 });
    let body = json!({
        "event": event, "events": [event], "steps": {},
        "ctx": { "run_id": "01KRUNLOGS", "attempt": 2, "max_attempts": 4,
                 "disable_immediate_execution": false, "use_api": false,
                 "stack": { "stack": [], "current": 0 } },
        "version": 2, "use_api": false,
    });
    let req = Request::post("/api/inngest?fnId=logs-chatty&stepId=step")
        .header("content-type", "application/json")
        .body(Bytes::from(serde_json::to_vec(&body).expect("json")))
        .expect("a request");
    let resp = handler.handle(req).await;
    assert_eq!(resp.status(), 206, "the step ran and was reported");

    let text = String::from_utf8(buffer.0.lock().expect("not poisoned").clone()).expect("utf-8");
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_string()
    };
    let before = line("before the step");
    assert!(
        before.contains("run{run_id=01KRUNLOGS function_id=logs-chatty attempt=2}"),
        "{before}"
    );
    assert!(!before.contains("step{"), "{before}");
    let inside = line("inside the step");
    assert!(
        inside.contains(
            "run{run_id=01KRUNLOGS function_id=logs-chatty attempt=2}:step{step=count attempt=2}"
        ),
        "{inside}"
    );
    assert!(inside.contains("n=41"), "{inside}");
}

#[test]
fn an_endpoint_in_cloud_mode_without_keys_says_what_is_missing_once() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let build = |vars: Vec<(&str, &str)>| {
        App::builder(Inngest::with_config("logs", Config::from_vars(vars)))
            .register(Chatty)
            .build()
            .expect("the app builds")
    };
    let _cloud = ServeHandler::new(build(vec![("INNGEST_SIGNING_KEY", "signkey-prod-00")]));
    let _dev = ServeHandler::new(build(vec![("INNGEST_DEV", "1")]));
    let _keyed = ServeHandler::new(build(vec![
        ("INNGEST_SIGNING_KEY", "signkey-prod-00"),
        ("INNGEST_EVENT_KEY", "key"),
    ]));
    let text = String::from_utf8(buffer.0.lock().expect("not poisoned").clone()).expect("utf-8");
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(warnings[0].contains("cloud mode"), "{text}");
    assert!(warnings[0].contains("INNGEST_EVENT_KEY"), "{text}");
    assert!(!warnings[0].contains("INNGEST_SIGNING_KEY and"), "{text}");
}
