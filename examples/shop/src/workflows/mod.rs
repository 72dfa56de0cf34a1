//! Workflows. `cargo inngest make workflow <Name>` adds one and registers it in
//! `src/inngest.rs`.

pub mod hello_workflow;
pub use hello_workflow::HelloWorkflow;

pub mod welcome_user;
pub use welcome_user::WelcomeUser;

pub mod send_email;
pub use send_email::SendEmail;

pub mod process_order;
pub use process_order::ProcessOrder;

pub mod daily_report;
pub use daily_report::DailyReport;
