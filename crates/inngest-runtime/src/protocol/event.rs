//! Events as they travel on the event API and inside execution requests.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::JsonRepr;

/// An event on the wire: `{name, data, id?, ts?, user?, v?}`.
///
/// `data` is kept as JSON here, as a [`Value`] tree by default or as its raw text
/// (`EventPayload<RawJson>`, see [`super::json`]); typed access goes through [`crate::Event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "V: JsonRepr"))]
pub struct EventPayload<V = Value> {
    /// The event name, e.g. `user/user.created`. Required and non-empty.
    pub name: String,
    /// The payload (an object; `{}` when absent).
    #[serde(default = "V::empty_object")]
    pub data: V,
    /// The event id (also its idempotency key). The server fills it in when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Milliseconds since the Unix epoch. The server fills it in when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    /// User data attached to the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<V>,
    /// A schema version string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<String>,
}

impl EventPayload {
    /// An event with a name and a JSON payload.
    pub fn new(name: impl Into<String>, data: Value) -> Self {
        Self {
            name: name.into(),
            data,
            id: None,
            ts: None,
            user: None,
            v: None,
        }
    }
}

/// The event API's answer to `POST /e/{key}`: `{ids, status, error?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendEventsResponse {
    /// The ids of the accepted events, in the order sent.
    #[serde(default)]
    pub ids: Vec<String>,
    /// The HTTP status the server reports.
    #[serde(default)]
    pub status: u16,
    /// The error, when the server refused the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Event names the Inngest server itself emits.
pub mod names {
    /// The event a cron trigger fires with.
    pub const SCHEDULED_TIMER: &str = "inngest/scheduled.timer";
    /// The event an `invoke` starts the target function with.
    pub const FUNCTION_INVOKED: &str = "inngest/function.invoked";
    /// The event emitted when a run fails for good (it triggers `on_failure`).
    pub const FUNCTION_FAILED: &str = "inngest/function.failed";
    /// The event emitted when a run finishes, successfully or not.
    pub const FUNCTION_FINISHED: &str = "inngest/function.finished";
    /// The event emitted when a run is cancelled.
    pub const FUNCTION_CANCELLED: &str = "inngest/function.cancelled";
}
