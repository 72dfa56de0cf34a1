//! Typed events: a payload struct bound to its event name.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::protocol::{EventPayload, JsonRepr};

/// A typed event payload. The name lives with the type, so a trigger, a send, a wait and an
/// invoke of the same event cannot disagree on it.
///
/// With the default `validate` feature, payloads implement [`garde::Validate`] and are checked
/// on send and on receipt.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use inngest_runtime::Event;
///
/// #[derive(Serialize, Deserialize, garde::Validate)]
/// pub struct UserCreated {
///     #[garde(length(min = 1))]
///     pub id: String,
///     #[garde(email)]
///     pub email: String,
/// }
/// impl Event for UserCreated {
///     const NAME: &'static str = "user/user.created";
/// }
/// # use inngest_runtime::event::ValidatePayload;
/// assert!(UserCreated { id: "u1".into(), email: "nope".into() }.validate_payload().is_err());
/// ```
pub trait Event: Serialize + DeserializeOwned + ValidatePayload + Send + Sync + 'static {
    /// The event name, e.g. `user/user.created`.
    const NAME: &'static str;
}

/// Payload validation; implemented for every [`garde::Validate`] type with the `validate`
/// feature, and for every type (as a no-op) without it.
pub trait ValidatePayload {
    /// Checks the payload, returning a readable report of what is wrong.
    fn validate_payload(&self) -> Result<(), String>;
}

#[cfg(feature = "validate")]
impl<T> ValidatePayload for T
where
    T: garde::Validate,
    T::Context: Default,
{
    fn validate_payload(&self) -> Result<(), String> {
        garde::Validate::validate(self).map_err(|report| report.to_string().trim().to_string())
    }
}

#[cfg(not(feature = "validate"))]
impl<T> ValidatePayload for T {
    fn validate_payload(&self) -> Result<(), String> {
        Ok(())
    }
}

/// An event as a handler receives it: the typed payload plus the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedEvent<E> {
    /// The event name.
    pub name: String,
    /// The typed payload.
    pub data: E,
    /// The event id.
    #[serde(default)]
    pub id: Option<String>,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub ts: Option<i64>,
    /// User data attached to the event.
    #[serde(default)]
    pub user: Option<Value>,
    /// Schema version.
    #[serde(default)]
    pub v: Option<String>,
}

/// An event payload that could not be read as its type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The JSON does not fit the type.
    #[error("event {name:?} does not match its type")]
    Shape {
        /// The event name.
        name: String,
        /// The serde error.
        source: serde_json::Error,
    },
    /// The payload fits the type but fails validation.
    #[error("event {name:?} is invalid: {report}")]
    Invalid {
        /// The event name.
        name: String,
        /// What is wrong.
        report: String,
    },
}

impl<E: DeserializeOwned + ValidatePayload> ReceivedEvent<E> {
    /// Decodes and validates a wire event.
    pub fn decode<V: JsonRepr>(payload: &EventPayload<V>) -> Result<Self, DecodeError> {
        let event = Self::decode_unvalidated(payload)?;
        event
            .data
            .validate_payload()
            .map_err(|report| DecodeError::Invalid {
                name: payload.name.clone(),
                report,
            })?;
        Ok(event)
    }

    /// Decodes a wire event that was validated before: the trigger of a run that has already
    /// started (its first request validated it, or the run would have failed then).
    pub(crate) fn decode_unvalidated<V: JsonRepr>(
        payload: &EventPayload<V>,
    ) -> Result<Self, DecodeError> {
        let shape = |source| DecodeError::Shape {
            name: payload.name.clone(),
            source,
        };
        let data = payload.data.decode().map_err(shape)?;
        let user = payload
            .user
            .as_ref()
            .map(JsonRepr::to_tree)
            .transpose()
            .map_err(shape)?;
        Ok(Self {
            name: payload.name.clone(),
            data,
            id: payload.id.clone(),
            ts: payload.ts,
            user,
            v: payload.v.clone(),
        })
    }
}

/// Validates a typed event and encodes it as it is sent (`{name, data}`).
///
/// # Errors
///
/// [`crate::error::SendError::Invalid`] when it does not validate,
/// [`crate::error::SendError::Serialize`] when it is not JSON.
pub fn encode<E: Event>(event: &E) -> Result<EventPayload, crate::error::SendError> {
    event
        .validate_payload()
        .map_err(|report| crate::error::SendError::Invalid {
            name: E::NAME.into(),
            report,
        })?;
    let data =
        serde_json::to_value(event).map_err(|source| crate::error::SendError::Serialize {
            name: E::NAME.into(),
            source,
        })?;
    Ok(EventPayload::new(E::NAME, data))
}

/// The payload of `inngest/scheduled.timer`, the event of cron-triggered runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(garde::Validate))]
pub struct ScheduledTimer {
    /// The schedule that fired.
    #[cfg_attr(feature = "validate", garde(skip))]
    #[serde(default)]
    pub cron: String,
    /// When the tick was scheduled (RFC 3339).
    #[cfg_attr(feature = "validate", garde(skip))]
    #[serde(
        default,
        rename = "scheduledAt",
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_at: Option<String>,
    /// When it fired (RFC 3339).
    #[cfg_attr(feature = "validate", garde(skip))]
    #[serde(default, rename = "fireAt", skip_serializing_if = "Option::is_none")]
    pub fire_at: Option<String>,
}

impl Event for ScheduledTimer {
    const NAME: &'static str = crate::protocol::event::names::SCHEDULED_TIMER;
}

/// The payload of `inngest/function.failed`, which the server sends when a run fails for good.
/// [`crate::Workflow::on_failure`] is the usual way to react to one workflow's failures; a
/// workflow triggered by this event sees the failures of every function (or, with
/// [`crate::Trigger::when`], of some), and may return an output of its own.
///
/// ```
/// use inngest_runtime::event::FunctionFailed;
/// use inngest_runtime::{Context, Trigger, Workflow, WorkflowError, WorkflowOptions};
///
/// /// Counts every failure of the app.
/// struct FailureLog;
/// impl Workflow for FailureLog {
///     type Event = FunctionFailed;
///     type Output = String;
///     fn options() -> WorkflowOptions { WorkflowOptions::new("failure-log") }
///     fn triggers() -> Vec<Trigger> {
///         vec![Trigger::event::<FunctionFailed>().when("event.data.function_id != 'shop-failure-log'")]
///     }
///     async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
///         let failed = &ctx.event.data;
///         Ok(format!("{} failed: {}", failed.function_id, failed.error.message))
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(garde::Validate))]
pub struct FunctionFailed {
    /// The failed function's composite id (`<app>-<workflow id>`).
    #[cfg_attr(feature = "validate", garde(skip))]
    #[serde(default)]
    pub function_id: String,
    /// The failed run's id.
    #[cfg_attr(feature = "validate", garde(skip))]
    #[serde(default)]
    pub run_id: String,
    /// The error the run ended with.
    #[cfg_attr(feature = "validate", garde(skip))]
    pub error: crate::protocol::SerializedError,
    /// The event that started the failed run, as it was received.
    #[cfg_attr(feature = "validate", garde(skip))]
    #[serde(default)]
    pub event: Value,
}

impl Event for FunctionFailed {
    const NAME: &'static str = crate::protocol::event::names::FUNCTION_FAILED;
}
