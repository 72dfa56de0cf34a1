//! The Inngest wire protocol, as types.
//!
//! These types are what crosses the wire between an Inngest server (cloud, self-hosted, or
//! `inngest-devserver`) and an SDK app. They live once, here, and both sides use them:
//!
//! - [`request`]: the execution request the executor POSTs to the app;
//! - [`opcode`]: the generator ops the app answers with (206 bodies);
//! - [`memo`]: how a memoized step value in `steps` is read back;
//! - [`json`]: how the types hold JSON values (a tree or the raw text);
//! - [`sync`]: the registration payload (`/fn/register`, in-band sync) and function configs;
//! - [`event`]: events on the event API;
//! - [`error`]: the serialized error shape;
//! - [`headers`]: header names and SDK identity.
//!
//! Nothing here does I/O.

#[cfg(feature = "connect")]
pub mod connect;
pub mod error;
pub mod event;
pub mod headers;
pub mod json;
pub mod memo;
pub mod opcode;
pub mod request;
pub mod sync;

pub use error::SerializedError;
pub use event::EventPayload;
pub use json::{JsonRepr, RawJson, SharedJson, Steps};
pub use memo::MemoValue;
pub use opcode::{GeneratorOp, Opcode, Userland};
pub use request::{ExecutionRequest, RequestContext, RunStack};
