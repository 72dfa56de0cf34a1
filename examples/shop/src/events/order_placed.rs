//! The `shop/order.placed` event.

use inngest_runtime::Event;
use serde::{Deserialize, Serialize};

/// The payload of `shop/order.placed`, validated when sent and when received.
#[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]
pub struct OrderPlaced {
    /// Who or what the event is about.
    #[garde(length(min = 1))]
    pub id: String,
}

impl Event for OrderPlaced {
    const NAME: &'static str = "shop/order.placed";
}
