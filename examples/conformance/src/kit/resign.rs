//! Moves a recorded signature to another time, so a signed recording can be replayed to an SDK
//! whose clock cannot be fixed (the official JS app checks `t` against its own clock).
//!
//! A signature that was valid when recorded is signed again at the same offset from the new
//! time (a signature recorded as expired stays expired by as much); one that was never valid
//! (a wrong key) is kept as it was.

use inngest_runtime::signature::{hmac_hex, parse_header, request_message, sign};

/// Re-signs with `key`, shifting every timestamp by `shift` seconds.
#[derive(Debug, Clone)]
pub struct Resign {
    /// The signing key the recording was made with.
    pub key: String,
    /// New time minus recorded time, in seconds.
    pub shift: i64,
}

impl Resign {
    /// The header to send instead of `header` for `body`.
    ///
    /// ```
    /// use conformance_app::kit::resign::Resign;
    /// use inngest_runtime::signature::sign;
    /// let key = "signkey-test-12345678";
    /// let recorded = sign(key, br#"{"a":1}"#, 1_000);
    /// let r = Resign { key: key.into(), shift: 500 };
    /// assert_eq!(r.header(&recorded, br#"{"a":1}"#), sign(key, br#"{"a":1}"#, 1_500));
    /// assert_eq!(r.header("t=1000&s=00", b"{}"), "t=1000&s=00");
    /// ```
    pub fn header(&self, header: &str, body: &[u8]) -> String {
        let Ok((t, s)) = parse_header(header) else {
            return header.to_string();
        };
        let message = request_message(body);
        if hmac_hex(&self.key, &message, t) != s {
            return header.to_string();
        }
        match t.checked_add(self.shift) {
            Some(new_t) => sign(&self.key, &message, new_t),
            None => header.to_string(),
        }
    }
}
