//! The `shop/user.created` event, sent by `POST /users`.

use inngest_runtime::Event;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A new account. The id is a [`Uuid`]: serde refuses anything that is not one, so garde has
/// nothing left to check on it.
#[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]
pub struct UserCreated {
    /// The account id.
    #[garde(skip)]
    pub id: Uuid,
    /// Where the welcome e-mails go.
    #[garde(email)]
    pub email: String,
}

impl Event for UserCreated {
    const NAME: &'static str = "shop/user.created";
}
