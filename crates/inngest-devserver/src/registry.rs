//! Synced apps and their functions, as `POST /fn/register` declares them.

use std::collections::BTreeMap;

use inngest_runtime::cron::{CronError, CronSchedule};
use inngest_runtime::duration::DurationError;
use inngest_runtime::protocol::sync::{FunctionConfig, RegisterRequest, TriggerConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backoff;
use crate::expr::{Expr, ExprError};

/// Why a sync was refused (nothing of it was applied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// No app name.
    #[error("appName must not be empty")]
    NoAppName,
    /// A function's config is not valid.
    #[error("function {id:?} is not valid")]
    Function {
        /// The function's id.
        id: String,
        /// What is wrong with it.
        #[source]
        problem: ConfigError,
    },
    /// Another app already serves a function with this id. Function ids are global: the Go
    /// server keeps both and routes to the one it registered first, so the second app's
    /// function would silently never run; this server says so instead.
    #[error(
        "function {id:?} is already registered by app {owner:?}; function ids are unique \
         across apps (the app id is their prefix): rename the function or the app"
    )]
    TakenBy {
        /// The function's id.
        id: String,
        /// The app that has it.
        owner: String,
    },
    /// The server stopped.
    #[error(transparent)]
    Stopped(#[from] crate::Stopped),
}

/// What is wrong with a synced function's config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The id is empty.
    #[error("the id is empty")]
    EmptyId,
    /// There is no step to call.
    #[error("it has no step to call")]
    NoStep,
    /// The step has no URL.
    #[error("its step has no runtime URL")]
    NoUrl,
    /// A trigger's `expression` does not compile.
    #[error("a trigger's expression does not compile")]
    TriggerExpression(#[source] ExprError),
    /// A cron trigger does not parse.
    #[error("a cron trigger is not valid")]
    Cron(#[source] CronError),
    /// A `concurrency` key does not compile.
    #[error("a concurrency key does not compile")]
    ConcurrencyKey(#[source] ExprError),
    /// More `concurrency` limits than the server allows.
    #[error("it has {0} concurrency limits; at most {MAX_CONCURRENCY_LIMITS} are allowed")]
    TooManyConcurrencyLimits(usize),
    /// A `concurrency` limit that is neither a number nor `{limit, key?, scope?}`.
    #[error("a concurrency limit must be a number or {{limit, key?, scope?}}")]
    ConcurrencyShape,
    /// A `concurrency` scope other than `fn`, `env` and `account`.
    #[error("{0:?} is not a concurrency scope (fn, env or account)")]
    ConcurrencyScope(String),
    /// An `env` or `account` limit without a key.
    #[error("an {0}-scoped concurrency limit needs a key")]
    ConcurrencyKeyRequired(&'static str),
    /// A `cancel` rule's `if` does not compile.
    #[error("a cancel condition does not compile")]
    CancelCondition(#[source] ExprError),
    /// A trigger of a kind this server does not know.
    #[error("a trigger is neither an event nor a cron")]
    UnknownTrigger,
    /// A flow-control number out of the range the Go server allows.
    #[error("{option}: {rule}")]
    OutOfRange {
        /// The option (`rateLimit`, `debounce`, …).
        option: &'static str,
        /// What the server requires, in its words.
        rule: &'static str,
    },
    /// A flow-control option lacks a field it needs.
    #[error("{option} needs a {field}")]
    Missing {
        /// The option (`rateLimit`, `debounce`, …).
        option: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A flow-control option's duration does not parse.
    #[error("{option}.{field} is not a valid duration")]
    Duration {
        /// The option.
        option: &'static str,
        /// The field.
        field: &'static str,
        /// Why it does not parse.
        #[source]
        source: DurationError,
    },
    /// A flow-control option's key does not compile.
    #[error("the {option} key does not compile")]
    Key {
        /// The option.
        option: &'static str,
        /// Why it does not compile.
        #[source]
        source: ExprError,
    },
}

/// A synced app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRecord {
    /// The sync payload as received.
    pub sync: RegisterRequest,
    /// When it was last synced, in ms.
    pub synced_at_ms: i64,
}

/// Concurrency limits a function may have (`MaxConcurrencyLimits` in the Go server).
pub const MAX_CONCURRENCY_LIMITS: usize = 2;

/// Where a concurrency limit's count is kept, and so which runs share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyScope {
    /// The function's own runs (the default).
    Fn,
    /// Every function of the environment: one dev server is one environment.
    Env,
    /// Every function of the account: one dev server is one account.
    Account,
}

impl ConcurrencyScope {
    fn name(self) -> &'static str {
        match self {
            Self::Fn => "fn",
            Self::Env => "env",
            Self::Account => "account",
        }
    }
}

/// A concurrency limit: `limit` calls in flight at once among the runs that share its count:
/// those of its scope whose `key` evaluates to the same value.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit {
    /// Calls in flight allowed.
    pub limit: usize,
    /// Which runs share the count.
    pub scope: ConcurrencyScope,
    /// Groups runs by this expression over `event` (required unless the scope is `fn`).
    pub key: Option<Expr>,
}

impl ConcurrencyLimit {
    /// The count a run of `function_id` triggered by `event` takes a slot in. As in the Go
    /// server (`util.ConcurrencyKey`), it is the scope, the scope's owner and the key's value;
    /// the key's expression is not part of it, so limits of one scope whose keys evaluate to
    /// the same value share a count. A key that does not evaluate groups as the empty value.
    pub fn slot(&self, function_id: &str, event: &Value) -> String {
        let value = self
            .key
            .as_ref()
            .map(|k| k.key(&[("event", event)]).unwrap_or_default());
        match (self.scope, value) {
            (ConcurrencyScope::Fn, None) => format!("f\u{0}{function_id}"),
            (ConcurrencyScope::Fn, Some(v)) => format!("fk\u{0}{function_id}\u{0}{v}"),
            (ConcurrencyScope::Env, v) => format!("e\u{0}{}", v.unwrap_or_default()),
            (ConcurrencyScope::Account, v) => format!("a\u{0}{}", v.unwrap_or_default()),
        }
    }
}

/// A `cancel` rule.
#[derive(Debug, Clone)]
pub struct CancelRule {
    /// The cancelling event's name.
    pub event: String,
    /// Over `event` (the run's) and `async` (the cancelling one).
    pub condition: Option<Expr>,
}

/// A trigger, compiled.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// An event name (`*` wildcards allowed at the end) and an optional expression.
    Event {
        /// The name or pattern.
        name: String,
        /// Over `event`.
        condition: Option<Expr>,
    },
    /// A schedule.
    Cron(Box<CronSchedule>),
}

/// A window limit: at most `limit` starts per `period_ms` per value of `key`.
#[derive(Debug, Clone)]
pub struct Window {
    /// Starts allowed per window.
    pub limit: usize,
    /// The window's length.
    pub period_ms: i64,
    /// Groups runs by this expression over `event`.
    pub key: Option<Expr>,
}

/// `singleton`: one run at a time per key.
#[derive(Debug, Clone)]
pub struct Singleton {
    /// Groups runs by this expression over `event`.
    pub key: Option<Expr>,
    /// `cancel`: the new run replaces the running one; otherwise the new one is skipped.
    pub cancel: bool,
}

/// `debounce`: start once events stop coming for `period_ms` (at most `timeout_ms` after
/// the first), with the last event.
#[derive(Debug, Clone)]
pub struct Debounce {
    /// Quiet time before the start.
    pub period_ms: i64,
    /// Groups events by this expression over `event`.
    pub key: Option<Expr>,
    /// The longest delay after the first event.
    pub timeout_ms: Option<i64>,
}

/// `batchEvents`: up to `max_size` events per run, started when full or `timeout_ms` after
/// the first.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Events per run at most.
    pub max_size: usize,
    /// The longest wait after the first event.
    pub timeout_ms: i64,
    /// Separate batches per value of this expression over `event`.
    pub key: Option<Expr>,
}

/// What stands between a trigger and a run's start, and how long a run may last.
#[derive(Debug, Clone, Default)]
pub struct FlowControl {
    /// `rateLimit`: extra starts are dropped.
    pub rate_limit: Option<Window>,
    /// `throttle`: extra starts wait for the window (`limit` + `burst` per `period`).
    pub throttle: Option<Window>,
    /// `batchEvents`.
    pub batch: Option<Batch>,
    /// `idempotency`: one run per key per 24 h.
    pub idempotency: Option<Expr>,
    /// `singleton`.
    pub singleton: Option<Singleton>,
    /// `debounce`.
    pub debounce: Option<Debounce>,
    /// `timeouts.finish`: a run still going after this long is cancelled.
    pub finish_timeout_ms: Option<i64>,
}

/// `option.field` as milliseconds, if the field is there.
fn duration_ms(
    value: &Value,
    option: &'static str,
    field: &'static str,
) -> Result<Option<i64>, ConfigError> {
    match value.get(field).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => inngest_runtime::duration::parse(s)
            .map(|d| Some(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
            .map_err(|source| ConfigError::Duration {
                option,
                field,
                source,
            }),
    }
}

/// `option.field` as milliseconds; the field is required.
fn required_ms(
    value: &Value,
    option: &'static str,
    field: &'static str,
) -> Result<i64, ConfigError> {
    duration_ms(value, option, field)?.ok_or(ConfigError::Missing { option, field })
}

fn key_of(value: &Value, option: &'static str) -> Result<Option<Expr>, ConfigError> {
    compile_opt(value.get("key").and_then(Value::as_str))
        .map_err(|source| ConfigError::Key { option, source })
}

/// A count from the config; a value past `usize` (impossible on 64-bit) saturates.
fn count(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

const SECOND_MS: i64 = 1000;
const DAY_MS: i64 = 86_400_000;

/// `Err(OutOfRange)` unless `ok`.
fn require(ok: bool, option: &'static str, rule: &'static str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { option, rule })
    }
}

impl FlowControl {
    /// Reads the flow-control options with the Go server's rules (`pkg/inngest`): a rate
    /// limit of at least 1 per at most 24 h; a throttle limit of 0 counts as 1; a debounce
    /// period of 1 s to 7 days; batches of at least 1 event (2 in the Go server, which rejects
    /// 1; we accept it) gathered for at least 1 s. Windows and times saturate, so no number a
    /// sync carries can overflow the engine's arithmetic.
    fn parse(config: &FunctionConfig) -> Result<Self, ConfigError> {
        let mut flow = FlowControl::default();
        if let Some(r) = &config.rate_limit {
            let limit = r.get("limit").and_then(Value::as_u64).unwrap_or(1);
            require(limit > 0, "rateLimit", "limit must be greater than 0")?;
            let period_ms = required_ms(r, "rateLimit", "period")?;
            require(
                period_ms <= DAY_MS,
                "rateLimit",
                "period must be at most 24h",
            )?;
            flow.rate_limit = Some(Window {
                limit: count(limit),
                period_ms,
                key: key_of(r, "rateLimit")?,
            });
        }
        if let Some(t) = &config.throttle {
            let limit = t.get("limit").and_then(Value::as_u64).unwrap_or(1).max(1);
            let burst = t.get("burst").and_then(Value::as_u64).unwrap_or(0);
            let period_ms = required_ms(t, "throttle", "period")?;
            require(
                period_ms >= SECOND_MS,
                "throttle",
                "period must be at least 1s",
            )?;
            flow.throttle = Some(Window {
                limit: count(limit.saturating_add(burst)),
                period_ms,
                key: key_of(t, "throttle")?,
            });
        }
        if let Some(b) = &config.batch_events {
            let max_size = b.get("maxSize").and_then(Value::as_u64).unwrap_or(1).max(1);
            let timeout_ms = required_ms(b, "batchEvents", "timeout")?;
            require(
                timeout_ms >= SECOND_MS,
                "batchEvents",
                "timeout must be at least 1s",
            )?;
            flow.batch = Some(Batch {
                max_size: count(max_size),
                timeout_ms,
                key: key_of(b, "batchEvents")?,
            });
        }
        if let Some(k) = &config.idempotency {
            flow.idempotency = Some(Expr::compile(k).map_err(|source| ConfigError::Key {
                option: "idempotency",
                source,
            })?);
        }
        if let Some(s) = &config.singleton {
            flow.singleton = Some(Singleton {
                key: key_of(s, "singleton")?,
                cancel: s.get("mode").and_then(Value::as_str) == Some("cancel"),
            });
        }
        if let Some(d) = &config.debounce {
            let period_ms = required_ms(d, "debounce", "period")?;
            require(
                (SECOND_MS..=7 * DAY_MS).contains(&period_ms),
                "debounce",
                "period must be between 1s and 7d",
            )?;
            flow.debounce = Some(Debounce {
                period_ms,
                key: key_of(d, "debounce")?,
                timeout_ms: duration_ms(d, "debounce", "timeout")?,
            });
        }
        if let Some(t) = &config.timeouts {
            flow.finish_timeout_ms = duration_ms(t, "timeouts", "finish")?;
        }
        Ok(flow)
    }
}

/// A function ready to run.
#[derive(Debug, Clone)]
pub struct Function {
    /// The config as synced.
    pub config: FunctionConfig,
    /// The app's id.
    pub app_id: String,
    /// A stable UUID for the function (sent as `ctx.fn_id`).
    pub uuid: String,
    /// The URL to call (`…?fnId=…&stepId=step`).
    pub url: String,
    /// Attempts per queue item.
    pub max_attempts: u32,
    /// Compiled triggers.
    pub triggers: Vec<Trigger>,
    /// Concurrency limits (at most two); a call takes a slot in each.
    pub concurrency: Vec<ConcurrencyLimit>,
    /// Cancellation rules.
    pub cancel: Vec<CancelRule>,
    /// Rate limit, idempotency, singleton, debounce, finish timeout.
    pub flow: FlowControl,
}

impl Function {
    fn compile(app_id: &str, config: FunctionConfig) -> Result<Self, RegisterError> {
        let id = config.id.clone();
        Self::compile_config(app_id, config)
            .map_err(|problem| RegisterError::Function { id, problem })
    }

    fn compile_config(app_id: &str, config: FunctionConfig) -> Result<Self, ConfigError> {
        if config.id.is_empty() {
            return Err(ConfigError::EmptyId);
        }
        let step = config
            .steps
            .get("step")
            .or_else(|| config.steps.values().next())
            .ok_or(ConfigError::NoStep)?;
        if step.runtime.url.is_empty() {
            return Err(ConfigError::NoUrl);
        }
        let retries = step.retries.map(|r| r.attempts).or(config.retries);
        let mut triggers = Vec::new();
        for t in &config.triggers {
            triggers.push(match t {
                TriggerConfig::Event { event, expression } => Trigger::Event {
                    name: event.clone(),
                    condition: compile_opt(expression.as_deref())
                        .map_err(ConfigError::TriggerExpression)?,
                },
                TriggerConfig::Cron { cron } => Trigger::Cron(Box::new(
                    CronSchedule::parse(cron).map_err(ConfigError::Cron)?,
                )),
                _ => return Err(ConfigError::UnknownTrigger),
            });
        }
        let concurrency = concurrency(config.concurrency.as_ref())?;
        let cancel = cancel_rules(config.cancel.as_ref()).map_err(ConfigError::CancelCondition)?;
        let flow = FlowControl::parse(&config)?;
        Ok(Self {
            uuid: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, config.id.as_bytes()).to_string(),
            url: step.runtime.url.clone(),
            max_attempts: backoff::max_attempts(retries),
            app_id: app_id.to_string(),
            triggers,
            concurrency,
            cancel,
            flow,
            config,
        })
    }

    /// Whether an event starts a run of this function.
    pub fn triggered_by(&self, event: &Value) -> bool {
        let name = event
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.triggers.iter().any(|t| match t {
            Trigger::Event {
                name: pattern,
                condition,
            } => {
                name_matches(pattern, name)
                    && condition
                        .as_ref()
                        .is_none_or(|c| c.matches(&[("event", event)]))
            }
            Trigger::Cron(_) => false,
        })
    }
}

fn compile_opt(src: Option<&str>) -> Result<Option<Expr>, ExprError> {
    src.filter(|s| !s.trim().is_empty())
        .map(Expr::compile)
        .transpose()
}

/// `concurrency`, as the Go server reads it (`inngest.ConcurrencyLimits`): a number (a limit on
/// the function), `{limit, key?, scope?}`, a list of those, or `{step: [...], fn: [...]}`. At
/// most two limits; `env` and `account` limits need a key; a limit of 0 limits nothing.
///
/// The `fn` list of the last form holds run-level semaphores (held for a whole run), a form
/// the Go server builds for itself and no SDK sends; it is not enforced here.
fn concurrency(value: Option<&Value>) -> Result<Vec<ConcurrencyLimit>, ConfigError> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(n @ Value::Number(_)) => vec![n],
        Some(Value::Array(list)) => list.iter().collect(),
        Some(Value::Object(o)) if o.contains_key("fn") || o.contains_key("step") => {
            if o.get("fn")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty())
            {
                tracing::warn!("run-level (`fn`) concurrency limits are not enforced");
            }
            o.get("step")
                .and_then(Value::as_array)
                .map(|l| l.iter().collect())
                .unwrap_or_default()
        }
        Some(o @ Value::Object(_)) => vec![o],
        // As the Go server: anything else is not a limit.
        Some(_) => return Ok(Vec::new()),
    };
    if items.len() > MAX_CONCURRENCY_LIMITS {
        return Err(ConfigError::TooManyConcurrencyLimits(items.len()));
    }
    let mut limits = Vec::new();
    for item in items {
        if let Some(limit) = concurrency_limit(item)? {
            limits.push(limit);
        }
    }
    Ok(limits)
}

/// One limit: a number, or `{limit, key?, scope?}`; `None` for a limit of 0.
fn concurrency_limit(item: &Value) -> Result<Option<ConcurrencyLimit>, ConfigError> {
    let (limit, key, scope) = match item {
        Value::Number(n) => (n.as_u64().ok_or(ConfigError::ConcurrencyShape)?, None, None),
        Value::Object(o) => {
            let limit = match o.get("limit") {
                None | Some(Value::Null) => 0,
                Some(l) => l.as_u64().ok_or(ConfigError::ConcurrencyShape)?,
            };
            let key = match o.get("key") {
                None | Some(Value::Null) => None,
                Some(Value::String(k)) => Some(k.as_str()),
                Some(_) => return Err(ConfigError::ConcurrencyShape),
            };
            (limit, key, o.get("scope"))
        }
        _ => return Err(ConfigError::ConcurrencyShape),
    };
    let scope = match scope {
        None | Some(Value::Null) => ConcurrencyScope::Fn,
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "fn" => ConcurrencyScope::Fn,
            "env" => ConcurrencyScope::Env,
            "account" => ConcurrencyScope::Account,
            _ => return Err(ConfigError::ConcurrencyScope(s.clone())),
        },
        Some(other) => return Err(ConfigError::ConcurrencyScope(other.to_string())),
    };
    let key = compile_opt(key).map_err(ConfigError::ConcurrencyKey)?;
    if scope != ConcurrencyScope::Fn && key.is_none() {
        return Err(ConfigError::ConcurrencyKeyRequired(scope.name()));
    }
    if limit == 0 {
        return Ok(None);
    }
    Ok(Some(ConcurrencyLimit {
        limit: count(limit),
        scope,
        key,
    }))
}

fn cancel_rules(value: Option<&Value>) -> Result<Vec<CancelRule>, ExprError> {
    let Some(Value::Array(list)) = value else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for rule in list {
        if let Some(event) = rule.get("event").and_then(Value::as_str) {
            out.push(CancelRule {
                event: event.to_string(),
                condition: compile_opt(rule.get("if").and_then(Value::as_str))?,
            });
        }
    }
    Ok(out)
}

/// Event name matching: exact, or a pattern ending in `*`.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Every synced app and its compiled functions.
#[derive(Debug, Default)]
pub struct Registry {
    apps: BTreeMap<String, AppRecord>,
    functions: BTreeMap<String, Function>,
}

impl Registry {
    /// Replaces an app's functions with those of a sync. Returns whether anything changed.
    pub fn register(&mut self, sync: RegisterRequest, now_ms: i64) -> Result<bool, RegisterError> {
        if sync.app_name.trim().is_empty() {
            return Err(RegisterError::NoAppName);
        }
        let mut compiled = Vec::new();
        for f in &sync.functions {
            compiled.push(Function::compile(&sync.app_name, f.clone())?);
        }
        if let Some(taken) = compiled.iter().find_map(|f| {
            self.functions
                .get(&f.config.id)
                .filter(|existing| existing.app_id != sync.app_name)
        }) {
            return Err(RegisterError::TakenBy {
                id: taken.config.id.clone(),
                owner: taken.app_id.clone(),
            });
        }
        let modified = self
            .apps
            .get(&sync.app_name)
            .is_none_or(|old| old.sync.functions != sync.functions || old.sync.url != sync.url);
        self.functions.retain(|_, f| f.app_id != sync.app_name);
        for f in compiled {
            self.functions.insert(f.config.id.clone(), f);
        }
        self.apps.insert(
            sync.app_name.clone(),
            AppRecord {
                sync,
                synced_at_ms: now_ms,
            },
        );
        Ok(modified)
    }

    /// A function by composite id.
    pub fn function(&self, id: &str) -> Option<&Function> {
        self.functions.get(id)
    }

    /// Every function.
    pub fn functions(&self) -> impl Iterator<Item = &Function> {
        self.functions.values()
    }

    /// Every app.
    pub fn apps(&self) -> impl Iterator<Item = &AppRecord> {
        self.apps.values()
    }

    /// The app synced as `name`.
    pub fn app(&self, name: &str) -> Option<&AppRecord> {
        self.apps.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(extra: serde_json::Value) -> Function {
        let mut config = serde_json::json!({
            "id": "a-f", "name": "f", "triggers": [{ "event": "a/b" }],
            "steps": { "step": { "id": "step", "name": "step",
                "runtime": { "type": "http", "url": "http://x?fnId=a-f&stepId=step" } } },
        });
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let config: FunctionConfig = serde_json::from_value(config).expect("a config");
        Function::compile("a", config).expect("compiles")
    }

    fn concurrency_of(value: serde_json::Value) -> Result<Vec<ConcurrencyLimit>, ConfigError> {
        concurrency(Some(&value))
    }

    #[test]
    fn concurrency_takes_every_limit_with_its_scope_and_key() {
        let limits = function(serde_json::json!({ "concurrency": [
            { "limit": 5 },
            { "limit": 1, "key": "event.data.user", "scope": "env" },
        ] }))
        .concurrency;
        let shapes: Vec<_> = limits
            .iter()
            .map(|l| (l.limit, l.scope, l.key.is_some()))
            .collect();
        assert_eq!(
            shapes,
            [
                (5, ConcurrencyScope::Fn, false),
                (1, ConcurrencyScope::Env, true)
            ]
        );
        let event = serde_json::json!({ "data": { "user": "u1" } });
        assert_eq!(limits[0].slot("a-f", &event), "f\u{0}a-f");
        assert_eq!(limits[1].slot("a-f", &event), "e\u{0}u1");

        // A number, one object, the `{step: [...]}` form; a limit of 0 limits nothing.
        assert_eq!(concurrency_of(serde_json::json!(3)).map(|l| l.len()), Ok(1));
        let account =
            concurrency_of(serde_json::json!({ "limit": 2, "key": "'all'", "scope": "account" }))
                .expect("valid");
        assert_eq!(account[0].scope, ConcurrencyScope::Account);
        assert_eq!(account[0].slot("x-y", &event), "a\u{0}all");
        let step = concurrency_of(
            serde_json::json!({ "step": [{ "limit": 4, "key": "event.data.user" }] }),
        )
        .expect("valid");
        assert_eq!(step[0].slot("a-f", &event), "fk\u{0}a-f\u{0}u1");
        assert_eq!(concurrency_of(serde_json::json!(0)).map(|l| l.len()), Ok(0));
    }

    #[test]
    fn concurrency_refuses_what_the_go_server_refuses() {
        let three = serde_json::json!([{ "limit": 1 }, { "limit": 2 }, { "limit": 3 }]);
        assert_eq!(
            concurrency_of(three).err(),
            Some(ConfigError::TooManyConcurrencyLimits(3))
        );
        assert_eq!(
            concurrency_of(serde_json::json!({ "limit": 1, "scope": "env" })).err(),
            Some(ConfigError::ConcurrencyKeyRequired("env"))
        );
        assert_eq!(
            concurrency_of(serde_json::json!({ "limit": 1, "key": "k", "scope": "galaxy" })).err(),
            Some(ConfigError::ConcurrencyScope("galaxy".into()))
        );
        assert!(matches!(
            concurrency_of(serde_json::json!({ "limit": 1, "key": "event.data.(" })),
            Err(ConfigError::ConcurrencyKey(_))
        ));
        assert_eq!(
            concurrency_of(serde_json::json!([{ "limit": "5" }])).err(),
            Some(ConfigError::ConcurrencyShape)
        );
    }

    #[test]
    fn retries_come_from_the_step_then_the_top_level_then_the_default() {
        assert_eq!(function(serde_json::json!({})).max_attempts, 5);
        assert_eq!(
            function(serde_json::json!({ "retries": 1 })).max_attempts,
            2
        );
        let step_wins = serde_json::json!({ "retries": 1, "steps": { "step": { "id": "step", "name": "step",
            "runtime": { "type": "http", "url": "http://x" }, "retries": { "attempts": 3 } } } });
        assert_eq!(function(step_wins).max_attempts, 4);
    }
}
