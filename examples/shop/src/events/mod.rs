//! Events: each is a typed, validated payload with its Inngest name.
//! `cargo inngest make event <Name>` adds one.

// An event type is the app's contract with whoever sends it: it may exist before this binary
// sends or awaits it.
#![allow(dead_code, unused_imports)]

pub mod hello_requested;
pub use hello_requested::HelloRequested;

pub mod user_created;
pub use user_created::UserCreated;

pub mod order_placed;
pub use order_placed::OrderPlaced;

pub mod email_requested;
pub use email_requested::EmailRequested;
