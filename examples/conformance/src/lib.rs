//! The conformance contract of `tests/conformance/js/functions.mjs`, in Rust: the same app id
//! (`probe-app`), function ids, step ids, outputs, errors and retries as the official JS app,
//! so that the recorded official responses can be compared with ours.

use std::time::Duration;

pub mod kit;

use inngest_runtime::event::{FunctionFailed, ScheduledTimer};
use inngest_runtime::step::WaitForEvent;
use inngest_runtime::{
    App, Context, Event, Inngest, Trigger, Workflow, WorkflowError, WorkflowOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The app id of the contract.
pub const APP_ID: &str = "probe-app";

/// `user/user.created`.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
pub struct UserCreated {
    /// The new user's address.
    #[garde(email)]
    pub email: String,
    /// The user id.
    #[serde(rename = "userId")]
    #[garde(length(min = 1))]
    pub user_id: String,
}
impl Event for UserCreated {
    const NAME: &'static str = "user/user.created";
}

/// `billing/checkout.started`.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
pub struct CheckoutStarted {
    /// The order.
    #[serde(rename = "orderId")]
    #[garde(length(min = 1))]
    pub order_id: String,
}
impl Event for CheckoutStarted {
    const NAME: &'static str = "billing/checkout.started";
}

/// `billing/payment.succeeded`.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
pub struct PaymentSucceeded {
    /// The order.
    #[serde(rename = "orderId")]
    #[garde(length(min = 1))]
    pub order_id: String,
    /// Amount in cents.
    #[garde(skip)]
    pub amount: i64,
}
impl Event for PaymentSucceeded {
    const NAME: &'static str = "billing/payment.succeeded";
}

/// `app/child.requested`.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
pub struct ChildRequested {
    /// The number to double.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub n: Option<i64>,
}
impl Event for ChildRequested {
    const NAME: &'static str = "app/child.requested";
}

/// `app/parent.requested`.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
pub struct ParentRequested {
    /// The number the child doubles.
    #[serde(default)]
    #[garde(skip)]
    pub n: Option<i64>,
}
impl Event for ParentRequested {
    const NAME: &'static str = "app/parent.requested";
}

/// An event whose payload is any JSON object.
macro_rules! object_event {
    ($ty:ident, $name:literal) => {
        #[doc = concat!("`", $name, "` (any object payload).")]
        #[derive(Debug, Serialize, Deserialize, garde::Validate)]
        pub struct $ty {
            /// The payload's fields.
            #[serde(flatten)]
            #[garde(skip)]
            pub fields: Map<String, Value>,
        }
        impl Event for $ty {
            const NAME: &'static str = $name;
        }
    };
}
object_event!(BadInput, "app/bad.input");
object_event!(ParallelRequested, "app/parallel");
object_event!(RepeatRequested, "app/repeat");
object_event!(FailRequested, "app/fail");
object_event!(SendRequested, "app/send");
object_event!(PlainRequested, "app/plain");
object_event!(RetryAfterRequested, "app/retry-after");

/// What `send-welcome-email` returns.
#[derive(Debug, Serialize, Deserialize)]
pub struct WelcomeSent {
    /// Always `true`.
    pub sent: bool,
    /// The address.
    pub to: String,
}

/// What `send-followup-email` returns.
#[derive(Debug, Serialize, Deserialize)]
pub struct FollowupSent {
    /// Always `true`.
    pub sent: bool,
    /// The address.
    pub to: String,
    /// Whether the welcome e-mail was sent.
    pub prev: bool,
}

/// What a welcome-user run returns.
#[derive(Debug, Serialize, Deserialize)]
pub struct WelcomeOutput {
    /// How many e-mails the run sent.
    #[serde(rename = "emailsSent")]
    pub emails_sent: u32,
}

/// welcome-user: a step, a three-day sleep, a step. Step outputs are typed, as a Rust
/// workflow's would be; on the wire they are the contract's objects. The steps borrow the
/// event.
pub struct WelcomeUser;
impl Workflow for WelcomeUser {
    type Event = UserCreated;
    type Output = WelcomeOutput;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("welcome-user")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<WelcomeOutput, WorkflowError> {
        let email = &ctx.event.data.email;
        let first: WelcomeSent = ctx
            .step
            .run("send-welcome-email", async {
                Ok(WelcomeSent {
                    sent: true,
                    to: email.clone(),
                })
            })
            .await?;
        ctx.step.sleep("wait-3-days", "3d").await?;
        let _second: FollowupSent = ctx
            .step
            .run("send-followup-email", async {
                Ok(FollowupSent {
                    sent: true,
                    to: email.clone(),
                    prev: first.sent,
                })
            })
            .await?;
        Ok(WelcomeOutput { emails_sent: 2 })
    }
}

/// welcome-user's failure handler. The contract's handler returns a report, and a Rust
/// `on_failure` returns `()`, so this one is a workflow of its own on `inngest/function.failed`,
/// registered as `on_failure` would be (same id, name, trigger and retries).
pub struct WelcomeUserFailure;
impl Workflow for WelcomeUserFailure {
    type Event = FunctionFailed;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("welcome-user-failure")
            .name("welcome-user (failure)")
            .retries(1)
    }
    fn triggers() -> Vec<Trigger> {
        vec![
            Trigger::event::<FunctionFailed>()
                .when(format!("event.data.function_id == '{APP_ID}-welcome-user'")),
        ]
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let failed = &ctx.event.data;
        Ok(
            json!({ "handled": true, "original": failed.event["name"], "message": failed.error.message }),
        )
    }
}

/// daily-digest: a cron workflow with one step.
pub struct DailyDigest;
impl Workflow for DailyDigest {
    type Event = ScheduledTimer;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("daily-digest")
    }
    fn triggers() -> Vec<Trigger> {
        vec![Trigger::cron("0 9 * * *")]
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let n: i64 = ctx.step.run("count-users", || async { Ok(42) }).await?;
        Ok(json!({ "digestFor": n, "trigger": ctx.event.name }))
    }
}

/// wait-for-payment: waits an hour for the matching payment.
pub struct WaitForPayment;
impl Workflow for WaitForPayment {
    type Event = CheckoutStarted;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("wait-for-payment")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let paid = ctx
            .step
            .wait_for_event::<PaymentSucceeded>(
                "wait-for-payment-event",
                WaitForEvent::timeout("1h").matching("data.orderId"),
            )
            .await?;
        Ok(match paid {
            None => json!({ "status": "timed-out" }),
            Some(p) => json!({ "status": "paid", "amount": p.data.amount }),
        })
    }
}

/// child-fn's output.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Doubled {
    /// Twice the input.
    pub doubled: i64,
}

/// child-fn: doubles `n`.
pub struct ChildFn;
impl Workflow for ChildFn {
    type Event = ChildRequested;
    type Output = Doubled;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("child-fn")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Doubled, WorkflowError> {
        Ok(Doubled {
            doubled: ctx.event.data.n.unwrap_or(0) * 2,
        })
    }
}

/// parent-fn: invokes child-fn, typed both ways.
pub struct ParentFn;
impl Workflow for ParentFn {
    type Event = ParentRequested;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("parent-fn")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let child: Doubled = ctx
            .step
            .invoke_with_timeout::<ChildFn>(
                "call-child",
                ChildRequested {
                    n: ctx.event.data.n,
                },
                "10m",
            )
            .await?;
        Ok(json!({ "childSaid": child }))
    }
}

/// non-retriable: fails for good at once.
pub struct NonRetriable;
impl Workflow for NonRetriable {
    type Event = BadInput;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("non-retriable").retries(2)
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let data = serde_json::to_string(&ctx.event.data.fields)?;
        Err(WorkflowError::non_retriable(format!("bad input: {data}")))
    }
}

/// parallel-steps: two steps joined.
pub struct ParallelSteps;
impl Workflow for ParallelSteps {
    type Event = ParallelRequested;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("parallel-steps")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let (a, b) = tokio::join!(
            ctx.step.run("step-a", || async { Ok("A".to_string()) }),
            ctx.step.run("step-b", || async { Ok("B".to_string()) }),
        );
        Ok(json!({ "a": a?, "b": b? }))
    }
}

/// repeated-ids: the same step id three times.
pub struct RepeatedIds;
impl Workflow for RepeatedIds {
    type Event = RepeatRequested;
    type Output = Vec<i64>;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("repeated-ids")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Vec<i64>, WorkflowError> {
        let mut out = Vec::new();
        for i in 0..3 {
            out.push(ctx.step.run("same", move || async move { Ok(i) }).await?);
        }
        Ok(out)
    }
}

/// failing-step: a step that always throws (one retry).
pub struct FailingStep;
impl Workflow for FailingStep {
    type Event = FailRequested;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("failing-step").retries(1)
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        ctx.step
            .run("flaky", || async {
                Err::<Value, _>(WorkflowError::new("step exploded"))
            })
            .await
    }
}

/// send-event: sends `app/child.requested` durably.
pub struct SendEvent;
impl Workflow for SendEvent {
    type Event = SendRequested;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("send-event")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let ids = ctx
            .step
            .send_event("fan-out", ChildRequested { n: Some(1) })
            .await?;
        Ok(json!({ "ids": ids }))
    }
}

/// plain-throw: fails on the first attempt, succeeds on the second.
pub struct PlainThrow;
impl Workflow for PlainThrow {
    type Event = PlainRequested;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("plain-throw").retries(2)
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        if ctx.attempt < 1 {
            return Err(WorkflowError::new(format!(
                "transient failure on attempt {}",
                ctx.attempt
            )));
        }
        Ok(json!({ "recoveredOnAttempt": ctx.attempt }))
    }
}

/// retry-after: asks to be retried in 30 s.
pub struct RetryAfter;
impl Workflow for RetryAfter {
    type Event = RetryAfterRequested;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("retry-after").retries(1)
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<Value, WorkflowError> {
        Err(WorkflowError::retry_after(
            "rate limited",
            Duration::from_secs(30),
        ))
    }
}

/// The contract's app, in the JS app's registration order.
pub fn app(client: Inngest) -> Result<App, inngest_runtime::error::RegistrationError> {
    App::builder(client)
        .register(WelcomeUser)
        .register(WelcomeUserFailure)
        .register(DailyDigest)
        .register(WaitForPayment)
        .register(ChildFn)
        .register(ParentFn)
        .register(NonRetriable)
        .register(ParallelSteps)
        .register(RepeatedIds)
        .register(FailingStep)
        .register(SendEvent)
        .register(PlainThrow)
        .register(RetryAfter)
        .build()
}
