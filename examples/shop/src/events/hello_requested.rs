//! The `shop/hello.requested` event.

use inngest_runtime::Event;
use serde::{Deserialize, Serialize};

/// The payload of `shop/hello.requested`, validated when sent and when received.
#[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]
pub struct HelloRequested {
    /// Who or what the event is about.
    #[garde(length(min = 1))]
    pub id: String,
}

impl Event for HelloRequested {
    const NAME: &'static str = "shop/hello.requested";
}
