//! Inngest for shop: the client and the workflows this app serves.
//!
//! `cargo inngest make workflow <Name>` registers new workflows here. The client reads the
//! `INNGEST_*` environment variables: `INNGEST_DEV=1` (or a dev server URL) selects dev mode;
//! production needs `INNGEST_SIGNING_KEY` and `INNGEST_EVENT_KEY` (see `.env.example`).

use inngest_runtime::error::RegistrationError;
use inngest_runtime::{App, Inngest};

/// This app's id in Inngest: function ids are `shop-<workflow id>`.
pub const APP_ID: &str = "shop";

/// The client, configured from the environment.
pub fn client() -> Inngest {
    Inngest::new(APP_ID)
}

/// Every workflow this app serves, built with its dependencies.
pub fn app(client: Inngest) -> Result<App, RegistrationError> {
    App::builder(client)
        .register(crate::workflows::HelloWorkflow::default())
        .register(crate::workflows::PlaceOrderWorkflow::default())
        // `cargo inngest make workflow` registers new workflows above this line.
        .build()
}
