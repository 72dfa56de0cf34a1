//! Decoding the store's rows. A row wraps what came from outside (an event, a step's output)
//! a few levels deeper than it arrived: an event nested just under serde_json's default limit
//! of 128 levels, accepted at intake, would make its run's row unreadable under that same
//! limit. Rows are read with a limit of their own, checked on the text before decoding, so
//! that decoding never recurses deeper than [`MAX_DEPTH`].

use serde::de::{DeserializeOwned, Error as _};

/// The deepest nesting of arrays and objects a row may have.
pub(super) const MAX_DEPTH: usize = 256;

/// Decodes a row's JSON, nested at most [`MAX_DEPTH`] levels deep.
pub(super) fn decode<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    if nesting(text) > MAX_DEPTH {
        return Err(serde_json::Error::custom(format!(
            "the value is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    // Bounded by the check above.
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The deepest nesting of arrays and objects in JSON text, brackets inside strings not
/// counted. Malformed text gives some number; decoding then says what is wrong with it.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn rows_deeper_than_serde_jsons_default_limit_are_read() {
        assert!(serde_json::from_str::<Value>(&nested(200)).is_err());
        assert!(decode::<Value>(&nested(200)).is_ok());
        assert!(decode::<Value>(&nested(MAX_DEPTH)).is_ok());
    }

    #[test]
    fn rows_deeper_than_the_limit_are_refused_before_decoding() {
        let err = decode::<Value>(&nested(MAX_DEPTH + 1)).expect_err("too deep");
        assert!(err.to_string().contains("nested deeper than"), "{err}");
    }

    #[test]
    fn brackets_in_strings_do_not_count() {
        assert_eq!(nesting(r#"{"a":"[[[{{\"[[","b":[1]}"#), 2);
        assert_eq!(nesting(r#""\\""#), 0);
    }
}
