//! The app: the set of workflows an endpoint serves, checked at build time.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;

use crate::client::Inngest;
use crate::error::{RegistrationError, WorkflowError};
use crate::event::ReceivedEvent;
use crate::execution::{Execution, Outcome, RunRequest};
use crate::options::{Trigger, WorkflowOptions};
use crate::protocol::event::names;
use crate::protocol::sync::{FunctionConfig, StepConfig, StepRetries, StepRuntime, TriggerConfig};
use crate::protocol::{EventPayload, JsonRepr, SerializedError, SharedJson};
use crate::step::{Services, Step};
use crate::workflow::{Context, FailureContext, Workflow, has_failure_handler};

/// The server's retry count when a function sets none (`DefaultRetryCount` in Inngest's Go
/// source): 4 retries, so 5 attempts.
pub const DEFAULT_RETRIES: u32 = 4;

type Handler =
    Arc<dyn Fn(Arc<RunRequest>, Execution, Step) -> BoxFuture<'static, Outcome> + Send + Sync>;

/// One registered function: a workflow or the failure handler of one.
#[derive(Clone)]
pub(crate) struct Registered {
    /// `<app id>-<id>`.
    pub fn_id: String,
    pub name: String,
    pub triggers: Vec<TriggerConfig>,
    pub retries: Option<u32>,
    pub options: Option<WorkflowOptions>,
    pub handler: Handler,
}

impl Registered {
    /// The attempts allowed when the request does not say.
    pub fn max_attempts(&self) -> u32 {
        self.retries.unwrap_or(DEFAULT_RETRIES) + 1
    }

    /// The function's config for sync payloads.
    pub fn config(&self, serve_url: &str, runtime: &str) -> FunctionConfig {
        let sep = if serve_url.contains('?') { '&' } else { '?' };
        let step = StepConfig {
            id: "step".into(),
            name: "step".into(),
            runtime: StepRuntime {
                kind: runtime.into(),
                url: format!("{serve_url}{sep}fnId={}&stepId=step", self.fn_id),
            },
            retries: self.retries.map(|attempts| StepRetries { attempts }),
        };
        let o = self.options.as_ref();
        FunctionConfig {
            id: self.fn_id.clone(),
            name: self.name.clone(),
            triggers: self.triggers.clone(),
            steps: [("step".to_string(), step)].into_iter().collect(),
            concurrency: o.and_then(WorkflowOptions::concurrency_json),
            throttle: o.and_then(|o| o.throttle.clone()),
            rate_limit: o.and_then(|o| o.rate_limit.clone()),
            debounce: o.and_then(|o| o.debounce.clone()),
            batch_events: o.and_then(|o| o.batch_events.clone()),
            priority: o.and_then(|o| o.priority.clone()),
            cancel: o
                .filter(|o| !o.cancel.is_empty())
                .map(|o| Value::Array(o.cancel.clone())),
            timeouts: o.and_then(|o| o.timeouts.clone()),
            idempotency: o.and_then(|o| o.idempotency.clone()),
            singleton: o.and_then(|o| o.singleton.clone()),
            retries: None,
        }
    }
}

/// The workflows one endpoint serves.
///
/// ```
/// # use inngest_runtime::{App, Inngest, Context, Event, Workflow, WorkflowError, WorkflowOptions};
/// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
/// # struct Ping { #[garde(skip)] n: u32 }
/// # impl Event for Ping { const NAME: &'static str = "app/ping"; }
/// struct Pong;
/// impl Workflow for Pong {
///     type Event = Ping;
///     type Output = u32;
///     fn options() -> WorkflowOptions { WorkflowOptions::new("pong") }
///     async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> { Ok(ctx.event.data.n) }
/// }
/// let app = App::builder(Inngest::new("my-app")).register(Pong).build().unwrap();
/// assert_eq!(app.function_ids(), vec!["my-app-pong"]);
/// assert!(App::builder(Inngest::new("my-app")).register(Pong).register(Pong).build().is_err());
/// ```
#[derive(Clone)]
pub struct App {
    pub(crate) client: Inngest,
    pub(crate) functions: Vec<Registered>,
    by_id: HashMap<String, usize>,
    pub(crate) services: Arc<Services>,
    intercept: Option<Arc<dyn crate::intercept::StepInterceptor>>,
}

/// Collects workflows; [`AppBuilder::build`] checks them.
pub struct AppBuilder {
    client: Inngest,
    functions: Vec<Registered>,
    errors: Vec<RegistrationError>,
    intercept: Option<Arc<dyn crate::intercept::StepInterceptor>>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl App {
    /// Starts an app served with `client`'s id and configuration.
    pub fn builder(client: Inngest) -> AppBuilder {
        AppBuilder {
            client,
            functions: Vec::new(),
            errors: Vec::new(),
            intercept: None,
        }
    }

    /// The client.
    pub fn client(&self) -> &Inngest {
        &self.client
    }

    /// The composite ids of every registered function, failure handlers included.
    pub fn function_ids(&self) -> Vec<&str> {
        self.functions.iter().map(|f| f.fn_id.as_str()).collect()
    }

    /// The sync configs of every function, for a serve URL.
    pub fn function_configs(&self, serve_url: &str, runtime: &str) -> Vec<FunctionConfig> {
        self.functions
            .iter()
            .map(|f| f.config(serve_url, runtime))
            .collect()
    }

    pub(crate) fn function(&self, fn_id: &str) -> Option<&Registered> {
        self.by_id.get(fn_id).map(|&i| &self.functions[i])
    }
}

impl AppBuilder {
    /// Registers a workflow, and its failure handler when it implements
    /// [`Workflow::on_failure`].
    pub fn register<W: Workflow>(mut self, workflow: W) -> Self {
        let app_id = self.client.app_id().to_string();
        let options = W::options();
        let id = options.id.clone();
        if !valid_id(&id) {
            self.errors.push(RegistrationError::InvalidId(id));
            return self;
        }
        for d in &options.durations {
            if let Err(source) = crate::duration::parse(d) {
                self.errors.push(RegistrationError::Duration {
                    id: id.clone(),
                    source,
                });
            }
        }
        if options.concurrency.iter().any(|c| {
            c.key.is_none()
                && matches!(
                    c.scope,
                    Some(
                        crate::options::ConcurrencyScope::Env
                            | crate::options::ConcurrencyScope::Account
                    )
                )
        }) {
            self.errors.push(RegistrationError::Options {
                id: id.clone(),
                reason: "an env- or account-scoped concurrency limit needs a key".into(),
            });
        }
        if options.concurrency.len() > 2 {
            self.errors.push(RegistrationError::Options {
                id: id.clone(),
                reason: "at most two concurrency limits".into(),
            });
        }
        if options.retries.is_some_and(|r| r > 20) {
            self.errors.push(RegistrationError::Options {
                id: id.clone(),
                reason: "at most 20 retries".into(),
            });
        }
        let mut triggers = Vec::new();
        for t in W::triggers() {
            match t {
                Trigger::Event { name, expression } => triggers.push(TriggerConfig::Event {
                    event: name.to_string(),
                    expression,
                }),
                Trigger::Cron(cron) => match crate::cron::CronSchedule::parse(&cron) {
                    Ok(_) => triggers.push(TriggerConfig::Cron { cron }),
                    Err(source) => self.errors.push(RegistrationError::Cron {
                        id: id.clone(),
                        source,
                    }),
                },
            }
        }
        if triggers.is_empty()
            && !self
                .errors
                .iter()
                .any(|e| matches!(e, RegistrationError::Cron { id: i, .. } if *i == id))
        {
            self.errors.push(RegistrationError::NoTrigger(id.clone()));
        }
        let fn_id = format!("{app_id}-{id}");
        let name = options.name.clone().unwrap_or_else(|| id.clone());
        let workflow = Arc::new(workflow);

        let main = workflow.clone();
        let handler: Handler = Arc::new(move |req, exec, step| {
            let w = main.clone();
            Box::pin(async move {
                let (attempt, max_attempts) = exec.attempts();
                // The events were validated on the run's first request; a run with memoized
                // steps got past it.
                let validate = exec.is_first_request();
                exec.drive(move || async move {
                    let event = crate::workflow::decode_trigger::<W::Event>(&req.event, validate)?;
                    let ctx = Context {
                        event,
                        run_id: req.ctx.run_id.clone(),
                        attempt,
                        max_attempts,
                        step,
                        batch: crate::workflow::Batch::new(req.clone(), validate),
                    };
                    let out = w.handler(ctx).await?;
                    SharedJson::of(&out).map_err(|e| {
                        WorkflowError::non_retriable(format!("output is not JSON: {e}"))
                    })
                })
                .await
            })
        });
        self.functions.push(Registered {
            fn_id: fn_id.clone(),
            name: name.clone(),
            triggers,
            retries: options.retries,
            options: Some(options),
            handler,
        });

        if has_failure_handler::<W>() {
            let failure = workflow;
            let handler: Handler = Arc::new(move |req, exec, step| {
                let w = failure.clone();
                Box::pin(async move {
                    let (attempt, _) = exec.attempts();
                    exec.drive(move || async move {
                        let ctx = failure_context::<W>(&req, attempt, step);
                        w.on_failure(ctx).await?;
                        Ok(SharedJson::null())
                    })
                    .await
                })
            });
            self.functions.push(Registered {
                fn_id: format!("{fn_id}-failure"),
                name: format!("{name} (failure)"),
                triggers: vec![TriggerConfig::Event {
                    event: names::FUNCTION_FAILED.into(),
                    expression: Some(format!("event.data.function_id == '{fn_id}'")),
                }],
                retries: Some(1),
                options: None,
                handler,
            });
        }
        self
    }

    /// Lets `interceptor` decide `run` steps' results before their bodies run: the seam test
    /// engines mock steps through (see [`crate::intercept`]). Production apps have none.
    pub fn intercept_steps(
        mut self,
        interceptor: Arc<dyn crate::intercept::StepInterceptor>,
    ) -> Self {
        self.intercept = Some(interceptor);
        self
    }

    /// Checks the set: ids valid and unique, crons and durations valid.
    ///
    /// # Errors
    ///
    /// The first [`RegistrationError`] found: an empty app id, an id that is not
    /// `[A-Za-z0-9_-]+`, two functions with one id, a workflow without a trigger, a cron or a
    /// duration that does not parse, more than two concurrency limits, an env- or
    /// account-scoped limit without a key, or more than 20 retries.
    pub fn build(mut self) -> Result<App, RegistrationError> {
        if self.client.app_id().is_empty() {
            self.errors
                .insert(0, RegistrationError::InvalidId(String::new()));
        }
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        let mut by_id = HashMap::new();
        for (i, f) in self.functions.iter().enumerate() {
            if by_id.insert(f.fn_id.clone(), i).is_some() {
                return Err(RegistrationError::DuplicateId(f.fn_id.clone()));
            }
        }
        let services = Arc::new(Services {
            app_id: self.client.app_id().to_string(),
            client: self.client.clone(),
        });
        Ok(App {
            client: self.client,
            functions: self.functions,
            by_id,
            services,
            intercept: self.intercept,
        })
    }
}

/// The context of a failure handler, from its `inngest/function.failed` event. Nothing in the
/// event can stop the handler from running: an error that is not an error object becomes its
/// text, and an original event that does not decode as `W::Event` is `None` beside the raw one.
fn failure_context<W: Workflow>(req: &RunRequest, attempt: u32, step: Step) -> FailureContext<W> {
    let mut data = match req.event.data.to_tree() {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let error = match data.remove("error") {
        Some(e @ Value::Object(_)) => SerializedError::deserialize(&e)
            .unwrap_or_else(|_| SerializedError::new("Error", e.to_string())),
        Some(Value::String(message)) => SerializedError::new("Error", message),
        Some(other) => SerializedError::new("Error", other.to_string()),
        None => SerializedError::new("Error", "the failed run reported no error"),
    };
    let raw_event = data.remove("event").unwrap_or(Value::Null);
    let event = EventPayload::<Value>::deserialize(&raw_event)
        .ok()
        .and_then(|original| match ReceivedEvent::<W::Event>::decode(&original) {
            Ok(event) => Some(event),
            Err(e) => {
                tracing::debug!(error = %crate::error::chain(&e), "the failed run's event does not decode");
                None
            }
        });
    let text = |key: &str| match data.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    FailureContext {
        error,
        event,
        raw_event,
        failed_run_id: text("run_id"),
        function_id: text("function_id"),
        run_id: req.ctx.run_id.clone(),
        attempt,
        step,
    }
}

/// Runs one execution request against a registered function.
pub(crate) async fn execute(
    app: &App,
    f: &Registered,
    mut req: RunRequest,
    target: Option<String>,
) -> Outcome {
    // Everything the handler logs, its steps' too, carries the run's fields.
    let span = tracing::info_span!(
        "run",
        run_id = %req.ctx.run_id,
        function_id = %f.fn_id,
        attempt = req.ctx.attempt,
    );
    let intercept = app.intercept.clone().map(|i| (i, f.fn_id.clone()));
    let exec = Execution::new(&mut req, target, f.max_attempts(), &app.client, intercept);
    let step = Step::new(exec.run(), app.services.clone());
    (f.handler)(Arc::new(req), exec, step)
        .instrument(span)
        .await
}
