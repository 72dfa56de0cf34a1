//! The `shop/order.placed` event.

use inngest_runtime::Event;
use serde::{Deserialize, Serialize};

/// An order to fulfil.
#[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]
pub struct OrderPlaced {
    /// The order id.
    #[garde(length(min = 1, max = 64))]
    pub order_id: String,
    /// Who gets the receipt.
    #[garde(email)]
    pub email: String,
    /// What to charge, in cents.
    #[garde(range(min = 1))]
    pub total_cents: u64,
}

impl Event for OrderPlaced {
    const NAME: &'static str = "shop/order.placed";
}
