//! `GET /v1/stream`: the engine's changes as server-sent events, for the dashboard.
//!
//! Each event is named for its kind (`run`, `event`, `app`, `clock`) and carries a
//! [`Change`](crate::Change) as JSON. A listener that falls behind gets one `lagged` event
//! and should read what it shows afresh; a comment every 15 s keeps proxies from closing an
//! idle stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::Shared;

/// How long a stream lives; the browser's `EventSource` reconnects by itself.
const MAX_STREAM: Duration = Duration::from_secs(30 * 60);

pub(super) async fn stream(
    State(s): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = s.engine.subscribe_changes();
    let deadline = tokio::time::Instant::now() + MAX_STREAM;
    let events = futures::stream::unfold(changes, move |mut changes| async move {
        let next = tokio::time::timeout_at(deadline, changes.recv())
            .await
            .ok()?;
        let event = match next {
            Ok(change) => {
                let json = serde_json::to_value(&change).unwrap_or_default();
                let kind = json
                    .get("kind")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("change")
                    .to_string();
                Event::default().event(kind).data(json.to_string())
            }
            Err(RecvError::Lagged(missed)) => Event::default()
                .event("lagged")
                .data(format!("{{\"missed\":{missed}}}")),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), changes))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
