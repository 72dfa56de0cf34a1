//! Workflow options and triggers: everything Inngest's function config holds.

use std::time::Duration;

use serde_json::{Value, json};

use crate::event::Event;

/// What starts a workflow run.
///
/// ```
/// use inngest_runtime::{Trigger, event::ScheduledTimer};
/// let daily = Trigger::cron("TZ=Europe/Paris 0 9 * * *");
/// let timer = Trigger::event::<ScheduledTimer>().when("event.data.cron != ''");
/// # let _ = (daily, timer);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// An event by name, with an optional CEL expression over `event`.
    Event {
        /// The event name.
        name: &'static str,
        /// The `if` expression.
        expression: Option<String>,
    },
    /// A cron schedule (validated when the app is built).
    Cron(String),
}

impl Trigger {
    /// Triggers on the typed event `E`.
    pub fn event<E: Event>() -> Self {
        Trigger::Event {
            name: E::NAME,
            expression: None,
        }
    }

    /// Triggers on a cron schedule: five fields, optional `TZ=Zone ` prefix.
    pub fn cron(schedule: impl Into<String>) -> Self {
        Trigger::Cron(schedule.into())
    }

    /// Adds an `if` expression to an event trigger (no effect on cron triggers).
    pub fn when(self, expression: impl Into<String>) -> Self {
        match self {
            Trigger::Event { name, .. } => Trigger::Event {
                name,
                expression: Some(expression.into()),
            },
            cron => cron,
        }
    }
}

/// Scope of a concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConcurrencyScope {
    /// Per function (the default).
    Fn,
    /// Across the environment.
    Env,
    /// Across the account.
    Account,
}

/// A concurrency limit: at most `limit` steps at once, per `key` if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concurrency {
    /// The limit.
    pub limit: u32,
    /// A CEL expression; one limit per distinct value.
    pub key: Option<String>,
    /// Where the limit applies.
    pub scope: Option<ConcurrencyScope>,
}

impl Concurrency {
    /// A limit without key or scope.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            key: None,
            scope: None,
        }
    }
    /// Sets the key expression.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Sets the scope.
    pub fn scope(mut self, scope: ConcurrencyScope) -> Self {
        self.scope = Some(scope);
        self
    }
    fn to_json(&self) -> Value {
        let mut v = json!({ "limit": self.limit });
        if let Some(k) = &self.key {
            v["key"] = json!(k);
        }
        if let Some(s) = self.scope {
            v["scope"] = json!(match s {
                ConcurrencyScope::Fn => "fn",
                ConcurrencyScope::Env => "env",
                ConcurrencyScope::Account => "account",
            });
        }
        v
    }
}

/// What `singleton` does with a new run while one is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SingletonMode {
    /// Drop the new run.
    Skip,
    /// Cancel the running one.
    Cancel,
}

/// A workflow's configuration. Only `id` is required.
///
/// ```
/// use inngest_runtime::{WorkflowOptions, Concurrency};
/// let opts = WorkflowOptions::new("welcome-user")
///     .name("Welcome a new user")
///     .retries(3)
///     .concurrency(Concurrency::new(5).key("event.data.account_id"))
///     .throttle(10, "1m")
///     .debounce("5s")
///     .cancel_on("user/user.deleted", Some("event.data.id == async.data.id"))
///     .finish_timeout("1h");
/// assert_eq!(opts.id, "welcome-user");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowOptions {
    /// The function id within the app (the wire id is `<app id>-<id>`).
    pub id: String,
    /// The display name (defaults to the id).
    pub name: Option<String>,
    /// Retries after the first attempt (`None`: the server default, 4).
    pub retries: Option<u32>,
    /// Up to two concurrency limits.
    pub concurrency: Vec<Concurrency>,
    /// `{limit, period, burst?, key?}`.
    pub throttle: Option<Value>,
    /// `{limit, period, key?}`.
    pub rate_limit: Option<Value>,
    /// `{period, key?, timeout?}`.
    pub debounce: Option<Value>,
    /// `{maxSize, timeout, key?, if?}`.
    pub batch_events: Option<Value>,
    /// `{run}`: a CEL expression of seconds to move the run by.
    pub priority: Option<Value>,
    /// `[{event, if?, timeout?}]`.
    pub cancel: Vec<Value>,
    /// `{start?, finish?}`.
    pub timeouts: Option<Value>,
    /// A CEL key: one run per key per 24 h.
    pub idempotency: Option<String>,
    /// `{key?, mode}`.
    pub singleton: Option<Value>,
    /// Durations given in the options, checked at registration.
    pub(crate) durations: Vec<String>,
}

impl WorkflowOptions {
    /// Options with this id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }
    /// Sets the display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Sets the number of retries (attempts = retries + 1; at most 20).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }
    /// Adds a concurrency limit (Inngest allows two).
    pub fn concurrency(mut self, limit: impl Into<Concurrency>) -> Self {
        self.concurrency.push(limit.into());
        self
    }
    fn period(&mut self, p: &str) -> String {
        self.durations.push(p.to_string());
        p.to_string()
    }
    /// Throttles starts to `limit` per `period`.
    pub fn throttle(mut self, limit: u32, period: &str) -> Self {
        let period = self.period(period);
        self.throttle = Some(json!({ "limit": limit, "period": period }));
        self
    }
    /// Throttle with burst and key.
    pub fn throttle_with(
        mut self,
        limit: u32,
        period: &str,
        burst: u32,
        key: Option<&str>,
    ) -> Self {
        let period = self.period(period);
        let mut v = json!({ "limit": limit, "period": period, "burst": burst });
        if let Some(k) = key {
            v["key"] = json!(k);
        }
        self.throttle = Some(v);
        self
    }
    /// Drops starts over `limit` per `period`, per `key` if given.
    pub fn rate_limit(mut self, limit: u32, period: &str, key: Option<&str>) -> Self {
        let period = self.period(period);
        let mut v = json!({ "limit": limit, "period": period });
        if let Some(k) = key {
            v["key"] = json!(k);
        }
        self.rate_limit = Some(v);
        self
    }
    /// Delays the start until no event came for `period`.
    pub fn debounce(mut self, period: &str) -> Self {
        let period = self.period(period);
        self.debounce = Some(json!({ "period": period }));
        self
    }
    /// Debounce with a key and a maximum delay.
    pub fn debounce_with(mut self, period: &str, key: Option<&str>, timeout: Option<&str>) -> Self {
        let period = self.period(period);
        let mut v = json!({ "period": period });
        if let Some(k) = key {
            v["key"] = json!(k);
        }
        if let Some(t) = timeout {
            let t = self.period(t);
            v["timeout"] = json!(t);
        }
        self.debounce = Some(v);
        self
    }
    /// Runs on batches of up to `max_size` events, collected for at most `timeout`.
    pub fn batch_events(mut self, max_size: u32, timeout: &str) -> Self {
        let timeout = self.period(timeout);
        self.batch_events = Some(json!({ "maxSize": max_size, "timeout": timeout }));
        self
    }
    /// A priority expression (seconds, clamped to ±600 by the server).
    pub fn priority(mut self, run: impl Into<String>) -> Self {
        self.priority = Some(json!({ "run": run.into() }));
        self
    }
    /// Cancels the run when `event` arrives and `if_expr` holds.
    pub fn cancel_on(mut self, event: &str, if_expr: Option<&str>) -> Self {
        let mut v = json!({ "event": event });
        if let Some(e) = if_expr {
            v["if"] = json!(e);
        }
        self.cancel.push(v);
        self
    }
    /// Cancels the run with the typed event `E`.
    pub fn cancel_on_event<E: Event>(self, if_expr: Option<&str>) -> Self {
        self.cancel_on(E::NAME, if_expr)
    }
    /// Fails the run if it has not started within `d`.
    pub fn start_timeout(mut self, d: &str) -> Self {
        let d = self.period(d);
        let mut t = self.timeouts.take().unwrap_or_else(|| json!({}));
        t["start"] = json!(d);
        self.timeouts = Some(t);
        self
    }
    /// Fails the run if it has not finished within `d`.
    pub fn finish_timeout(mut self, d: &str) -> Self {
        let d = self.period(d);
        let mut t = self.timeouts.take().unwrap_or_else(|| json!({}));
        t["finish"] = json!(d);
        self.timeouts = Some(t);
        self
    }
    /// One run per value of `key` per 24 h.
    pub fn idempotency(mut self, key: impl Into<String>) -> Self {
        self.idempotency = Some(key.into());
        self
    }
    /// At most one run at a time (per key).
    pub fn singleton(mut self, mode: SingletonMode, key: Option<&str>) -> Self {
        let mut v = json!({ "mode": match mode { SingletonMode::Skip => "skip", SingletonMode::Cancel => "cancel" } });
        if let Some(k) = key {
            v["key"] = json!(k);
        }
        self.singleton = Some(v);
        self
    }

    pub(crate) fn concurrency_json(&self) -> Option<Value> {
        match self.concurrency.as_slice() {
            [] => None,
            [one] => Some(one.to_json()),
            many => Some(Value::Array(
                many.iter().map(Concurrency::to_json).collect(),
            )),
        }
    }
}

impl From<u32> for Concurrency {
    fn from(limit: u32) -> Self {
        Concurrency::new(limit)
    }
}

/// Turns into a sleep duration: an Inngest duration string (`"3d"`) or a [`Duration`].
pub trait IntoSleep {
    /// The duration as it goes on the wire, and as a [`Duration`].
    fn into_sleep(self) -> Result<(String, Duration), crate::duration::DurationError>;
}

impl IntoSleep for &str {
    fn into_sleep(self) -> Result<(String, Duration), crate::duration::DurationError> {
        crate::duration::parse(self).map(|d| (self.to_string(), d))
    }
}

impl IntoSleep for String {
    fn into_sleep(self) -> Result<(String, Duration), crate::duration::DurationError> {
        crate::duration::parse(&self).map(|d| (self, d))
    }
}

impl IntoSleep for Duration {
    fn into_sleep(self) -> Result<(String, Duration), crate::duration::DurationError> {
        Ok((crate::duration::format(self), self))
    }
}
