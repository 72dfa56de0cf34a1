//! Request signing: `X-Inngest-Signature: t=<unix seconds>&s=<hex>`, and the hashed signing
//! key the SDK presents to the Inngest API as a Bearer token.
//!
//! `s = hex(HMAC-SHA256(key = the signing key without its "signkey-<env>-" prefix, as ASCII,
//! message = canonical JSON of the body + t))`. A request is accepted within ±5 minutes of
//! `t`, with the primary key or the fallback key; comparison is constant-time.
//!
//! Inngest sends its bodies already canonical (JCS), so the raw bytes are checked first and
//! cost no parse. Only when they do not match, and the body is at most
//! [`CANONICAL_RETRY_LIMIT`] bytes, is the body parsed and canonicalized and checked again (the
//! official JS SDK accepts a signature over the same JSON written differently). The signature
//! must be 64 hex digits before any of this runs, so a forged header costs one HMAC of the raw
//! body, never a tree of a large one.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How far `t` may be from now.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// The largest body whose signature is checked a second time over its canonical JSON, when
/// the raw bytes do not match. Parsing builds a tree several times the body's size; bodies from
/// Inngest are canonical already and never need it.
pub const CANONICAL_RETRY_LIMIT: usize = 256 * 1024;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `X-Inngest-Signature` header.
    #[error("missing X-Inngest-Signature header")]
    Missing,
    /// The header is not `t=…&s=…`.
    #[error("malformed X-Inngest-Signature header")]
    Malformed,
    /// `t` is more than five minutes away from now.
    #[error("signature timestamp is outside the allowed window")]
    Expired,
    /// Neither key produced this signature.
    #[error("signature does not match")]
    Mismatch,
    /// No signing key is configured.
    #[error("no signing key is configured")]
    NoKey,
}

/// Which key verified a request: responses are signed with the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifiedWith {
    /// `INNGEST_SIGNING_KEY`.
    Primary,
    /// `INNGEST_SIGNING_KEY_FALLBACK`.
    Fallback,
}

fn strip_prefix(key: &str) -> &str {
    // ^signkey-\w+-
    if let Some(rest) = key.strip_prefix("signkey-") {
        if let Some(pos) = rest.find('-') {
            let env = &rest[..pos];
            if !env.is_empty() && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return &rest[pos + 1..];
            }
        }
    }
    key
}

/// The hex HMAC of `message` followed by the decimal `timestamp`, keyed with `signing_key`.
pub fn hmac_hex(signing_key: &str, message: &[u8], timestamp: i64) -> String {
    let mut mac = HmacSha256::new_from_slice(strip_prefix(signing_key).as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(message);
    mac.update(timestamp.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Builds a signature header value for `message` at `timestamp`.
///
/// ```
/// use inngest_runtime::signature::sign;
/// assert_eq!(
///     sign("signkey-test-12345678", br#"{"a":1}"#, 1705586504),
///     "t=1705586504&s=bd16d89641dac2e340a40e3800435b96c0e533c00bc7322c1eefae65d6ab6954"
/// );
/// ```
pub fn sign(signing_key: &str, message: &[u8], timestamp: i64) -> String {
    format!(
        "t={timestamp}&s={}",
        hmac_hex(signing_key, message, timestamp)
    )
}

/// The message a request signature covers: canonical JSON of the body when it is JSON, the
/// raw bytes otherwise (and the empty string for an empty body).
pub fn request_message(body: &[u8]) -> Vec<u8> {
    if body.is_empty() {
        return Vec::new();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => crate::canonical_json::to_string(&v).into_bytes(),
        Err(_) => body.to_vec(),
    }
}

/// The `t` (Unix seconds) and `s` (hex HMAC) of a signature header.
///
/// ```
/// use inngest_runtime::signature::parse_header;
/// assert_eq!(parse_header("t=1000&s=ab"), Ok((1000, "ab")));
/// assert!(parse_header("t=-9223372036854775809&s=ab").is_err());
/// ```
pub fn parse_header(header: &str) -> Result<(i64, &str), SignatureError> {
    let mut t = None;
    let mut s = None;
    for part in header.split('&') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("s", v)) => s = Some(v),
            _ => {}
        }
    }
    match (t, s) {
        (Some(t), Some(s)) if !s.is_empty() => Ok((t, s)),
        _ => Err(SignatureError::Malformed),
    }
}

/// Verifies a request signature header against the body, at time `now` (Unix seconds).
///
/// ```
/// use inngest_runtime::signature::{sign, verify, VerifiedWith};
/// let key = "signkey-test-12345678";
/// let header = sign(key, br#"{"a":1}"#, 1_000);
/// assert_eq!(verify(Some(&header), br#"{ "a": 1 }"#, Some(key), None, 1_010), Ok(VerifiedWith::Primary));
/// assert!(verify(Some(&header), br#"{"a":2}"#, Some(key), None, 1_010).is_err());
/// ```
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    key: Option<&str>,
    fallback: Option<&str>,
    now: i64,
) -> Result<VerifiedWith, SignatureError> {
    let key = key.ok_or(SignatureError::NoKey)?;
    let header = header.ok_or(SignatureError::Missing)?;
    let (t, s) = parse_header(header)?;
    // Checked: `t` comes from the request and may be any i64.
    if now
        .checked_sub(t)
        .and_then(i64::checked_abs)
        .is_none_or(|d| d > MAX_SKEW_SECS)
    {
        return Err(SignatureError::Expired);
    }
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::Malformed);
    }
    let keys = [
        (Some(key), VerifiedWith::Primary),
        (fallback, VerifiedWith::Fallback),
    ];
    let signed_by = |message: &[u8]| {
        keys.iter().find_map(|&(candidate, which)| {
            let expected = hmac_hex(candidate?, message, t);
            bool::from(expected.as_bytes().ct_eq(s.as_bytes())).then_some(which)
        })
    };
    if let Some(which) = signed_by(body) {
        return Ok(which);
    }
    if body.is_empty() || body.len() > CANONICAL_RETRY_LIMIT {
        return Err(SignatureError::Mismatch);
    }
    let canonical = request_message(body);
    if canonical == body {
        return Err(SignatureError::Mismatch);
    }
    signed_by(&canonical).ok_or(SignatureError::Mismatch)
}

/// The Bearer token for the Inngest API: the key's prefix kept, its hex part replaced by
/// `hex(sha256(hex_decode(hex part)))`.
///
/// ```
/// use inngest_runtime::signature::hashed_signing_key;
/// assert_eq!(
///     hashed_signing_key("signkey-prod-12345678"),
///     "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
/// );
/// ```
pub fn hashed_signing_key(key: &str) -> String {
    let hex_part = strip_prefix(key);
    let prefix = &key[..key.len() - hex_part.len()];
    let digest = match hex::decode(hex_part) {
        Ok(bytes) => Sha256::digest(&bytes),
        Err(_) => Sha256::digest(hex_part.as_bytes()),
    };
    format!("{prefix}{}", hex::encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "signkey-test-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const FALLBACK: &str =
        "signkey-test-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    #[test]
    fn matches_the_recorded_js_signature_of_an_empty_get() {
        // _cloud-signed/02: GET signed over "" + t.
        let h = sign(KEY, b"", 1795740178);
        assert_eq!(
            h,
            "t=1795740178&s=1989ec74f793e8a64fba873771035bcccddaf67b58a3766ed20aa31c1dbfd92e"
        );
        assert_eq!(
            verify(Some(&h), b"", Some(KEY), None, 1795740178),
            Ok(VerifiedWith::Primary)
        );
    }

    #[test]
    fn timestamps_at_the_ends_of_i64_are_expired_not_a_panic() {
        let body = b"{}";
        for t in [i64::MIN, i64::MIN + 1, i64::MAX, -1] {
            let header = format!("t={t}&s=00");
            assert_eq!(
                verify(Some(&header), body, Some(KEY), None, 10_000),
                Err(SignatureError::Expired),
                "t={t}"
            );
        }
        let header = format!("t={}&s=00", i64::MAX);
        assert_eq!(
            verify(Some(&header), body, Some(KEY), None, i64::MIN),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn tampered_expired_missing_and_fallback() {
        let body = br#"{"x":[1,2]}"#;
        let good = sign(KEY, body, 10_000);
        assert_eq!(
            verify(Some(&good), br#"{"x":[1,3]}"#, Some(KEY), None, 10_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), body, Some(KEY), None, 10_000 + 301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(Some(&good), body, Some(KEY), None, 10_000 - 301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(Some(&good), body, Some(KEY), None, 10_000 + 300),
            Ok(VerifiedWith::Primary)
        );
        assert_eq!(
            verify(None, body, Some(KEY), None, 10_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1"), body, Some(KEY), None, 10_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(&good), body, None, None, 10_000),
            Err(SignatureError::NoKey)
        );
        let by_fallback = sign(FALLBACK, body, 10_000);
        assert_eq!(
            verify(Some(&by_fallback), body, Some(KEY), None, 10_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&by_fallback), body, Some(KEY), Some(FALLBACK), 10_000),
            Ok(VerifiedWith::Fallback)
        );
    }

    #[test]
    fn the_raw_bytes_are_checked_first_then_their_canonical_json() {
        let canonical = br#"{"a":1,"b":[true]}"#;
        let spaced = br#"{ "b": [true], "a": 1 }"#;
        // Signed over the bytes sent, whatever their form.
        let raw = sign(KEY, spaced, 10_000);
        assert_eq!(
            verify(Some(&raw), spaced, Some(KEY), None, 10_000),
            Ok(VerifiedWith::Primary)
        );
        // Signed over the canonical form, sent written otherwise: checked again canonicalized.
        let over_canonical = sign(KEY, canonical, 10_000);
        assert_eq!(
            verify(Some(&over_canonical), spaced, Some(KEY), None, 10_000),
            Ok(VerifiedWith::Primary)
        );
        // ... but only up to the limit: a larger body is taken as sent.
        let big = format!(r#"{{ "pad": "{}" }}"#, "x".repeat(CANONICAL_RETRY_LIMIT));
        let big_canonical = request_message(big.as_bytes());
        assert_ne!(big_canonical, big.as_bytes());
        let header = sign(KEY, &big_canonical, 10_000);
        assert_eq!(
            verify(Some(&header), big.as_bytes(), Some(KEY), None, 10_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), &big_canonical, Some(KEY), None, 10_000),
            Ok(VerifiedWith::Primary)
        );
    }

    #[test]
    fn a_signature_that_is_not_64_hex_digits_is_malformed() {
        let body = br#"{"a":1}"#;
        let good = sign(KEY, body, 10_000);
        let s = good.split_once("&s=").map(|(_, s)| s).unwrap_or_default();
        for bad in [
            &s[..63],
            &format!("{s}0")[..],
            &format!("{}g", &s[..63])[..],
            "",
        ] {
            let header = format!("t=10000&s={bad}");
            assert_eq!(
                verify(Some(&header), body, Some(KEY), None, 10_000),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bearer_of_the_recorded_key() {
        assert_eq!(
            hashed_signing_key(KEY),
            "signkey-test-4884fdaafea47c29fea7159d0daddd9c085d6200e1359e85bb81736af6b7c837"
        );
    }
}
