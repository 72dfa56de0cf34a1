//! # inngest-runtime
//!
//! Write [Inngest](https://www.inngest.com) durable workflows as Rust types.
//!
//! - A [`Workflow`] is a type: options, triggers, a handler and an optional failure handler.
//!   Its dependencies are plain fields.
//! - An [`Event`] is a payload type bound to its name, validated on send and on receipt.
//! - [`step::Step`] runs durable steps: `run`, `sleep`, `sleep_until`, `wait_for_event`,
//!   typed `invoke`, `send_event`; joined step futures run in parallel.
//! - An [`App`] is the set of workflows one endpoint serves; [`serve::axum`] mounts it. With
//!   the `connect` feature, `connect::Worker` serves it over an outbound WebSocket instead
//!   (connect mode: no public endpoint).
//! - [`Inngest`] is the client that sends events.
//!
//! The wire types live in [`protocol`], shared with `inngest-devserver`.
//!
//! ```no_run
//! use inngest_runtime::{App, Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions, serve};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, garde::Validate)]
//! pub struct UserCreated {
//!     #[garde(email)]
//!     pub email: String,
//! }
//! impl Event for UserCreated {
//!     const NAME: &'static str = "user/user.created";
//! }
//!
//! pub struct WelcomeUser;
//! impl Workflow for WelcomeUser {
//!     type Event = UserCreated;
//!     type Output = String;
//!     fn options() -> WorkflowOptions {
//!         WorkflowOptions::new("welcome-user")
//!     }
//!     async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
//!         let email = &ctx.event.data.email;
//!         ctx.step.run("send-welcome-email", async { Ok(format!("sent to {email}")) }).await
//!     }
//! }
//!
//! # async fn main_() -> Result<(), Box<dyn std::error::Error>> {
//! let app = App::builder(Inngest::new("shop")).register(WelcomeUser).build()?;
//! let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint(app));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, router).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod app;
pub mod canonical_json;
pub mod capped_body;
pub mod client;
pub mod config;
#[cfg(feature = "connect")]
pub mod connect;
pub mod cron;
pub mod duration;
pub mod error;
pub mod event;
mod execution;
pub mod intercept;
pub mod options;
pub mod protocol;
pub mod serve;
pub mod signature;
pub mod step;
pub mod step_id;
pub mod workflow;

pub use app::App;
pub use client::Inngest;
pub use error::{ErrorKind, WorkflowError};
pub use event::{Event, ReceivedEvent};
pub use options::{Concurrency, Trigger, WorkflowOptions};
pub use workflow::{Context, FailureContext, Workflow};

/// The JSON crate the runtime speaks, for [`Value`] outputs and `json!` without a dependency
/// of your own.
pub use serde_json;
pub use serde_json::{Value, json};
