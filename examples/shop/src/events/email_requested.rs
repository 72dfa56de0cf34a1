//! The `shop/email.requested` event: the data `send-email` is invoked with.

use inngest_runtime::Event;
use serde::{Deserialize, Serialize};

/// One e-mail to deliver.
#[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]
pub struct EmailRequested {
    /// The recipient.
    #[garde(email)]
    pub to: String,
    /// The subject line.
    #[garde(length(min = 1, max = 200))]
    pub subject: String,
}

impl Event for EmailRequested {
    const NAME: &'static str = "shop/email.requested";
}
