//! Apps in this process, called without HTTP: a function synced with an `inproc://<app id>/`
//! URL is executed by calling its app's [`ServeHandler`] directly. The test engine
//! ([`crate::testing`]) serves its apps this way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use inngest_runtime::serve::ServeHandler;

/// The URL scheme of in-process apps.
pub(crate) const SCHEME: &str = "inproc://";

/// The serve URL an in-process app is synced with.
pub(crate) fn app_url(app_id: &str) -> String {
    format!("{SCHEME}{app_id}/")
}

/// The in-process apps by app id. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct InProcessApps(Arc<Mutex<HashMap<String, ServeHandler>>>);

impl InProcessApps {
    /// Serves `app_id` with `handler` from now on.
    pub fn add(&self, app_id: &str, handler: ServeHandler) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(app_id.to_string(), handler);
    }

    /// The handler of `app_id`.
    pub fn get(&self, app_id: &str) -> Option<ServeHandler> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(app_id)
            .cloned()
    }
}
