//! What changed in the engine, for whoever shows it live (the dashboard's stream).

use serde::Serialize;

use crate::run::RunStatus;

/// One change: a run started, moved on or ended; an event arrived; an app synced; the clock
/// moved. Carries ids, not contents: a listener reads what it shows from the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// A run was saved (started, a step reported, ended).
    Run {
        /// The run id.
        run_id: String,
        /// Its function.
        function_id: String,
        /// Its status now.
        status: RunStatus,
    },
    /// An event was received.
    Event {
        /// The event id.
        id: String,
        /// Its name.
        name: String,
    },
    /// An app synced.
    App {
        /// The app id.
        id: String,
    },
    /// The clock was moved.
    Clock {
        /// The server's time now, in Unix ms.
        now_ms: i64,
    },
}
