//! The kit's error.

use std::path::PathBuf;

/// What can go wrong reading the corpus or talking to an app.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KitError {
    /// A corpus file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A corpus file is not the JSON the kit expects.
    #[error("{}: {what}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A request to the app failed.
    #[error("sending {scenario}/{n} to the app")]
    Http {
        /// The scenario.
        scenario: String,
        /// The exchange number.
        n: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The app under test could not be started.
    #[error("{0}")]
    App(String),
    /// The stand-in API could not listen.
    #[error("starting the stand-in Inngest API")]
    Listen(#[source] std::io::Error),
}
