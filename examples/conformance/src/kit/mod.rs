//! The conformance kit: the corpus of what the official JS SDK answers on the wire
//! (`tests/conformance/` at the workspace root), a stand-in for the Inngest API the SDK calls
//! while answering, and a replayer that sends the recorded requests to any serve endpoint over
//! HTTP and compares the answers in the protocol view.
//!
//! The same replayer records: pointed at the official JS app (`tests/conformance/js/`), it
//! writes the SDK's answers back into the corpus (`conformance-kit record`).

pub mod corpus;
pub mod deliberate;
pub mod error;
pub mod js_app;
pub mod official;
pub mod replay;
pub mod resign;
pub mod stand_in;
pub mod view;

pub use corpus::{Corpus, Exchange, RecordedRequest, RecordedResponse};
pub use error::KitError;
pub use replay::{Answer, Replayer};
pub use stand_in::{SideRequest, StandInApi};
