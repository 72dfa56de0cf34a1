//! Errors: [`WorkflowError`] is what handlers and steps return; the other types are this
//! library's own failures (registration, configuration, sending).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::protocol::SerializedError;

/// How the executor should treat a [`WorkflowError`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Retried with the server's backoff (the default).
    Retriable,
    /// Final: no retry.
    NonRetriable,
    /// Retried, not before this delay.
    RetryAfter(Duration),
    /// Retried, not before this time.
    RetryAt(DateTime<Utc>),
    /// A step that failed for good, surfacing in the handler. Final if not caught.
    StepFailed,
}

/// The error of a workflow handler or a step.
///
/// Any `std::error::Error` converts into it with `?` (as a retriable error named `Error`).
/// On the last attempt (`ctx.max_attempts`) every error becomes final, as in the official SDKs.
///
/// ```
/// use std::time::Duration;
/// use inngest_runtime::{ErrorKind, WorkflowError};
/// let e = WorkflowError::non_retriable("bad input");
/// assert_eq!(e.kind(), &ErrorKind::NonRetriable);
/// assert_eq!(e.name(), "NonRetriableError");
/// let e = WorkflowError::retry_after("rate limited", Duration::from_secs(30));
/// assert_eq!(e.name(), "RetryAfterError");
/// let parsed: Result<u32, WorkflowError> = "x".parse::<u32>().map_err(Into::into);
/// assert_eq!(parsed.unwrap_err().kind(), &ErrorKind::Retriable);
/// ```
#[derive(Debug)]
pub struct WorkflowError {
    kind: ErrorKind,
    error: SerializedError,
}

impl WorkflowError {
    /// A retriable error named `Error`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Retriable,
            error: SerializedError::new("Error", message),
        }
    }

    /// A final error named `NonRetriableError`: the run (or step) fails without retrying.
    pub fn non_retriable(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NonRetriable,
            error: SerializedError::new("NonRetriableError", message),
        }
    }

    /// A retriable error named `RetryAfterError`, retried no sooner than `after`.
    pub fn retry_after(message: impl Into<String>, after: Duration) -> Self {
        Self {
            kind: ErrorKind::RetryAfter(after),
            error: SerializedError::new("RetryAfterError", message),
        }
    }

    /// A retriable error named `RetryAfterError`, retried no sooner than `at`.
    pub fn retry_at(message: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            kind: ErrorKind::RetryAt(at),
            error: SerializedError::new("RetryAfterError", message),
        }
    }

    /// The error of a step that failed for good, as the handler sees it.
    pub fn step_failed(error: SerializedError) -> Self {
        Self {
            kind: ErrorKind::StepFailed,
            error,
        }
    }

    /// Renames the error (its `name` on the wire).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.error.name = name.into();
        self
    }

    /// How the executor will treat it.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The error's name, e.g. `Error`.
    pub fn name(&self) -> &str {
        &self.error.name
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.error.message
    }

    /// The error as it goes on the wire.
    pub fn serialized(&self) -> &SerializedError {
        &self.error
    }

    /// Whether no retry may follow, at this attempt of `max_attempts`.
    pub fn is_final(&self, attempt: u32, max_attempts: u32) -> bool {
        matches!(self.kind, ErrorKind::NonRetriable | ErrorKind::StepFailed)
            || attempt.saturating_add(1) >= max_attempts
    }

    /// The `Retry-After` header value, if the error asks for one.
    pub fn retry_after_header(&self) -> Option<String> {
        match &self.kind {
            ErrorKind::RetryAfter(d) => Some(d.as_secs_f64().ceil().max(1.0).to_string()),
            ErrorKind::RetryAt(at) => Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            _ => None,
        }
    }
}

impl std::fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for WorkflowError {
    fn from(err: E) -> Self {
        let mut chain = Vec::new();
        let mut source = err.source();
        while let Some(s) = source {
            chain.push(format!("caused by: {s}"));
            source = s.source();
        }
        let mut error = SerializedError::new("Error", err.to_string());
        if !chain.is_empty() {
            error.stack = Some(chain.join("\n"));
        }
        Self {
            kind: ErrorKind::Retriable,
            error,
        }
    }
}

/// A workflow set that cannot be served.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// Two workflows have the same id.
    #[error("duplicate workflow id {0:?}")]
    DuplicateId(String),
    /// A workflow id that is empty or has characters Inngest refuses.
    #[error("invalid workflow id {0:?}: use letters, digits, '-' and '_'")]
    InvalidId(String),
    /// A workflow without triggers.
    #[error("workflow {0:?} has no trigger")]
    NoTrigger(String),
    /// A bad cron schedule.
    #[error("workflow {id:?} has an invalid cron trigger")]
    Cron {
        /// The workflow.
        id: String,
        /// The cron error.
        source: crate::cron::CronError,
    },
    /// A bad duration in the options.
    #[error("workflow {id:?} has an invalid duration in its options")]
    Duration {
        /// The workflow.
        id: String,
        /// The duration error.
        source: crate::duration::DurationError,
    },
    /// Options Inngest refuses.
    #[error("workflow {id:?}: {reason}")]
    Options {
        /// The workflow.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

/// A configuration that cannot work (bad URLs, a key missing in cloud mode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The app id is empty.
    #[error("the app id must not be empty")]
    EmptyAppId,
    /// A URL that does not parse.
    #[error("invalid URL in {var}: {value:?}")]
    InvalidUrl {
        /// The setting or env var.
        var: &'static str,
        /// Its value.
        value: String,
    },
}

/// Why sending events failed. Nothing was sent when the payload was invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The payload failed validation; nothing was sent.
    #[error("event {name:?} is invalid: {report}")]
    Invalid {
        /// The event name.
        name: String,
        /// What is wrong.
        report: String,
    },
    /// The payload could not be serialized.
    #[error("event {name:?} could not be serialized")]
    Serialize {
        /// The event name.
        name: String,
        /// The serde error.
        source: serde_json::Error,
    },
    /// No event key in cloud mode.
    #[error("INNGEST_EVENT_KEY is not set (required in cloud mode)")]
    NoEventKey,
    /// The HTTP request failed.
    #[error("sending events failed")]
    Http(#[from] reqwest::Error),
    /// The event API's answer could not be read (cut off, or over 1 MiB).
    #[error("the event API's answer could not be read")]
    Answer(#[from] crate::capped_body::CappedBodyError),
    /// The event API refused the events.
    #[error("the event API answered {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
}

/// An error and its sources, as one line: `outer: cause: root cause`, each cause said once (a
/// cause whose text already ends the message before it, as a bind error that names its OS
/// error, is left out). For messages that travel as text (a step's serialized error, a log
/// line, the CLI's error output), where the chain would otherwise be lost.
///
/// ```
/// # use inngest_runtime::error::chain;
/// let e = inngest_runtime::duration::parse("soon").unwrap_err();
/// assert!(chain(&e).starts_with("invalid duration \"soon\""));
/// ```
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut last = out.clone();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !last.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        next = cause.source();
    }
    out
}

/// The text of a panic's payload (a `&str` or a `String`, as `panic!` makes them), for a log
/// line or a run's error when a task or a request panicked.
///
/// ```
/// # use inngest_runtime::error::panic_message;
/// let payload = std::panic::catch_unwind(|| panic!("step {} broke", 2)).unwrap_err();
/// assert_eq!(panic_message(payload), "step 2 broke");
/// ```
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[cfg(test)]
mod tests {
    use super::chain;

    /// The attempt comes from the request: its largest value decides, and does not overflow.
    #[test]
    fn the_last_possible_attempt_is_final() {
        let error = super::WorkflowError::new("boom");
        assert!(error.is_final(u32::MAX, 4));
        assert!(error.is_final(3, 4));
        assert!(!error.is_final(2, 4));
    }

    /// Says its cause in its message and returns it as its source, as a bind error may.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:1: {source}")]
    struct Repeats {
        source: std::io::Error,
    }

    /// Leaves its cause to the chain.
    #[derive(Debug, thiserror::Error)]
    #[error("the dev server did not start")]
    struct Wraps(#[source] Repeats);

    /// Wraps without repeating.
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Wraps);

    #[test]
    fn each_cause_is_said_once() {
        let os = || std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address in use");
        assert_eq!(
            chain(&Wraps(Repeats { source: os() })),
            "the dev server did not start: cannot listen on 127.0.0.1:1: Address in use"
        );
        assert_eq!(
            chain(&Outer(Wraps(Repeats { source: os() }))),
            "outer: the dev server did not start: cannot listen on 127.0.0.1:1: Address in use"
        );
    }
}
