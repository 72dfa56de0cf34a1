//! The shop's mail service. This one writes each e-mail to the log and keeps it in an outbox
//! instead of talking to an SMTP server; a real one would have the same methods.

use std::sync::{Arc, Mutex};

/// A mail service that workflows hold as a field. Cheap to clone.
#[derive(Clone, Default)]
pub struct Mailer {
    outbox: Arc<Mutex<Vec<(String, String)>>>,
}

/// Why an e-mail was not sent.
#[derive(Debug)]
pub struct MailError(String);

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MailError {}

impl Mailer {
    /// Sends one e-mail; its message id.
    pub async fn send(&self, to: &str, subject: &str) -> Result<String, MailError> {
        let mut outbox = self
            .outbox
            .lock()
            .map_err(|_| MailError("the outbox is poisoned".into()))?;
        outbox.push((to.to_string(), subject.to_string()));
        tracing::info!(%to, %subject, "e-mail sent");
        Ok(format!("msg-{}", outbox.len()))
    }

    /// How many e-mails were sent.
    pub fn sent(&self) -> usize {
        self.outbox.lock().map(|o| o.len()).unwrap_or(0)
    }
}
