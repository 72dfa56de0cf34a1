//! Inngest for shop: the client and the workflows this app serves.
//!
//! `cargo inngest make workflow <Name>` registers new workflows here. The client reads the
//! `INNGEST_*` environment variables: `INNGEST_DEV=1` (or a dev server URL) selects dev mode;
//! production needs `INNGEST_SIGNING_KEY` and `INNGEST_EVENT_KEY` (see `.env.example`).

use inngest_runtime::error::RegistrationError;
use inngest_runtime::{App, Inngest};

use crate::mailer::Mailer;

/// This app's id in Inngest: function ids are `shop-<workflow id>`.
pub const APP_ID: &str = "shop";

/// The client, configured from the environment.
pub fn client() -> Inngest {
    Inngest::new(APP_ID)
}

/// Every workflow this app serves, built with its dependencies.
pub fn app(client: Inngest, mailer: &Mailer) -> Result<App, RegistrationError> {
    App::builder(client)
        .register(crate::workflows::HelloWorkflow::default())
        .register(crate::workflows::WelcomeUser {
            mailer: mailer.clone(),
        })
        .register(crate::workflows::SendEmail {
            mailer: mailer.clone(),
        })
        .register(crate::workflows::ProcessOrder::default())
        .register(crate::workflows::DailyReport {
            mailer: mailer.clone(),
        })
        // `cargo inngest make workflow` registers new workflows above this line.
        .build()
}
