//! The workflow API as a user writes it, through the dev server: step bodies that borrow the
//! workflow's fields and the event (sequential, joined in parallel, classic and checkpoint
//! mode), and a failure handler that runs for an event that does not decode.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use inngest_devserver::{DevServer, DevServerConfig, RunStatus};
use inngest_runtime::{
    App, Context, Event, FailureContext, Workflow, WorkflowError, WorkflowOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct UserCreated {
    #[garde(email)]
    email: String,
    #[garde(length(min = 1))]
    name: String,
}
impl Event for UserCreated {
    const NAME: &'static str = "test/user.created";
}

/// The same payload on an event of its own, for the failing workflow.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct SignupRequested {
    #[garde(email)]
    email: String,
}
impl Event for SignupRequested {
    const NAME: &'static str = "test/signup.requested";
}

/// A mail service the workflow holds as a field; it records what it sent.
#[derive(Clone, Default)]
struct Mailer {
    sent: Arc<Mutex<Vec<String>>>,
}

impl Mailer {
    /// Fails like a real client would, with an error of its own type (not `WorkflowError`).
    async fn send(&self, to: &str, subject: &str) -> Result<String, std::io::Error> {
        if to.is_empty() {
            return Err(std::io::Error::other("no recipient"));
        }
        self.sent
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .push(format!("{subject} -> {to}"));
        Ok(format!("{subject}:{to}"))
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().expect("not poisoned").clone()
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct WelcomeOutput {
    receipt: String,
    tips: String,
    news: String,
    letters: usize,
}

/// Every step body borrows: `self.mailer`, `ctx.event`, a local, an earlier step's output.
struct WelcomeUser {
    mailer: Mailer,
}

impl Workflow for WelcomeUser {
    type Event = UserCreated;
    type Output = WelcomeOutput;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("welcome-user")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<WelcomeOutput, WorkflowError> {
        let user = &ctx.event.data;
        let subject = format!("Welcome, {}", user.name);
        let receipt = ctx
            .step
            .run("send-welcome", async {
                Ok(self.mailer.send(&user.email, &subject).await?)
            })
            .await?;
        let (tips, news) = tokio::join!(
            ctx.step.run("send-tips", async {
                Ok(self.mailer.send(&user.email, "Tips").await?)
            }),
            ctx.step.run("send-news", || async {
                Ok(self.mailer.send(&user.email, "News").await?)
            }),
        );
        let letters = ctx
            .step
            .run("count-letters", async { Ok(receipt.len()) })
            .await?;
        Ok(WelcomeOutput {
            receipt,
            tips: tips?,
            news: news?,
            letters,
        })
    }
}

/// Fails every run; its failure handler reports what it got.
struct Strict {
    reports: Arc<Mutex<Vec<Value>>>,
}

impl Workflow for Strict {
    type Event = SignupRequested;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("strict").retries(0)
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<(), WorkflowError> {
        Err(WorkflowError::non_retriable(
            "never reached for a bad event",
        ))
    }
    async fn on_failure(&self, ctx: FailureContext<Self>) -> Result<(), WorkflowError> {
        let report = json!({
            "typed": ctx.event.is_some(),
            "raw_email": ctx.raw_event["data"]["email"],
            "error_name": ctx.error.name,
            "error_message": ctx.error.message,
            "failed_run": ctx.failed_run_id,
        });
        self.reports.lock().expect("not poisoned").push(report);
        Ok(())
    }
}

struct Setup {
    server: DevServer,
    _app: support::RustApp,
    mailer: Mailer,
    reports: Arc<Mutex<Vec<Value>>>,
}

impl Setup {
    async fn new(checkpointing: bool) -> Self {
        let mailer = Mailer::default();
        let reports = Arc::new(Mutex::new(Vec::new()));
        let (m, r) = (mailer.clone(), reports.clone());
        let (server, app) = support::server_with_app_config(
            "api",
            DevServerConfig {
                checkpointing,
                ..DevServerConfig::default()
            },
            move |client| {
                App::builder(client)
                    .register(WelcomeUser { mailer: m })
                    .register(Strict { reports: r })
                    .build()
            },
        )
        .await;
        Self {
            server,
            _app: app,
            mailer,
            reports,
        }
    }

    /// Sends an event; its id.
    async fn send(&self, name: &str, data: Value) -> String {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/e/key", self.server.url()))
            .json(&json!({ "name": name, "data": data }))
            .send()
            .await
            .expect("the event API answers")
            .json()
            .await
            .expect("JSON");
        body["ids"][0].as_str().expect("an event id").to_string()
    }

    async fn finished(&self, event_id: &str, function_id: &str) -> inngest_devserver::RunView {
        self.server
            .finished_run(event_id, function_id, Duration::from_secs(20))
            .await
            .expect("the server runs")
            .unwrap_or_else(|| panic!("{function_id} did not finish"))
    }
}

async fn borrowing_steps_complete(checkpointing: bool) {
    let s = Setup::new(checkpointing).await;
    let event = s
        .send(
            UserCreated::NAME,
            json!({ "email": "ada@example.com", "name": "Ada" }),
        )
        .await;
    let run = s.finished(&event, "api-welcome-user").await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let receipt = "Welcome, Ada:ada@example.com";
    assert_eq!(
        run.output,
        Some(json!({
            "receipt": receipt,
            "tips": "Tips:ada@example.com",
            "news": "News:ada@example.com",
            "letters": receipt.len(),
        }))
    );
    // Each body ran once, however many requests replayed it.
    let mut sent = s.mailer.sent();
    sent.sort();
    assert_eq!(
        sent,
        [
            "News -> ada@example.com",
            "Tips -> ada@example.com",
            "Welcome, Ada -> ada@example.com"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn borrowing_steps_complete_in_classic_mode() {
    borrowing_steps_complete(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn borrowing_steps_complete_in_checkpoint_mode() {
    borrowing_steps_complete(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_handler_runs_for_an_event_that_does_not_validate() {
    let s = Setup::new(true).await;
    let event = s
        .send(SignupRequested::NAME, json!({ "email": "not-an-email" }))
        .await;
    let failed = s.finished(&event, "api-strict").await;
    assert_eq!(failed.status, RunStatus::Failed, "{failed:?}");
    let run_error = failed.output.clone().expect("an error");
    assert!(
        run_error["message"]
            .as_str()
            .is_some_and(|m| m.contains("email")),
        "the run fails on the event: {run_error}"
    );

    // The failure handler completes, with the raw event and the run's error.
    let handler_run = support::find_run(&s.server, "api-strict-failure", &[])
        .await
        .expect("a failure handler run");
    let done = support::wait_finished(&s.server, &handler_run, 20_000).await;
    assert_eq!(done.status, RunStatus::Completed, "{done:?}");
    let reports = s.reports.lock().expect("not poisoned").clone();
    assert_eq!(
        reports,
        [json!({
            "typed": false,
            "raw_email": "not-an-email",
            "error_name": run_error["name"],
            "error_message": run_error["message"],
            "failed_run": failed.run_id,
        })]
    );
    // One failed run: the failure handler's is not another.
    let (runs, _) = s.server.engine().recent().await.expect("running");
    let failures: Vec<_> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .map(|r| r.function_id.clone())
        .collect();
    assert_eq!(failures, ["api-strict"]);
}
