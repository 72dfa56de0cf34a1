//! Workflows. `cargo inngest make workflow <Name>` adds one and registers it in
//! `src/inngest.rs`.

pub mod hello_workflow;
pub use hello_workflow::HelloWorkflow;

pub mod place_order_workflow;
pub use place_order_workflow::PlaceOrderWorkflow;
