//! `POST /users`: creates an account and sends `shop/user.created`, which starts
//! `welcome-user`.
//!
//! ```text
//! curl -X POST localhost:3000/users -H 'content-type: application/json' -d '{"email":"ada@example.com"}'
//! {"id":"…","event_id":"…"}
//! ```

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use inngest_runtime::error::SendError;
use inngest_runtime::{Inngest, Value, json};
use serde::Deserialize;
use uuid::Uuid;

use crate::events::UserCreated;

/// The request body.
#[derive(Deserialize)]
pub struct NewUser {
    /// The new user's address.
    pub email: String,
}

/// Creates the user (here: an id) and starts its welcome. An invalid address is a 422, and
/// nothing is sent; an unreachable Inngest is a 502.
pub async fn create(
    State(inngest): State<Inngest>,
    Json(user): Json<NewUser>,
) -> (StatusCode, Json<Value>) {
    let event = UserCreated {
        id: Uuid::new_v4(),
        email: user.email,
    };
    let id = event.id;
    match inngest.send(event).await {
        Ok(event_id) => (
            StatusCode::CREATED,
            Json(json!({ "id": id, "event_id": event_id })),
        ),
        Err(e @ SendError::Invalid { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "message": e.to_string() })),
        ),
        Err(e) => {
            tracing::error!(error = %inngest_runtime::error::chain(&e), "shop/user.created not sent");
            (
                StatusCode::BAD_GATEWAY,
                Json(json!({ "message": "the event could not be sent" })),
            )
        }
    }
}
