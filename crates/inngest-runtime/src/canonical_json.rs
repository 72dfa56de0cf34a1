//! RFC 8785 (JCS) canonical JSON, which request signatures are computed over.
//!
//! Object keys are sorted by UTF-16 code units, there is no whitespace, strings use
//! `JSON.stringify` escaping and numbers use ECMAScript's shortest form.

use serde_json::Value;

/// Serializes a JSON value canonically.
///
/// ```
/// use serde_json::json;
/// use inngest_runtime::canonical_json::to_string;
/// assert_eq!(to_string(&json!({"b": [1, 2.5], "a": "x"})), r#"{"a":"x","b":[1,2.5]}"#);
/// assert_eq!(to_string(&json!(1e21)), "1e+21");
/// ```
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json escapes exactly as JSON.stringify does: `"`, `\`, and control characters.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    if n.is_i64() || n.is_u64() {
        out.push_str(&n.to_string());
        return;
    }
    let f = n.as_f64().unwrap_or(0.0);
    out.push_str(&es6_number(f));
}

/// ECMAScript `Number.prototype.toString` for finite doubles.
fn es6_number(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as ECMAScript requires.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    let sign = if f < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let esign = if e >= 0 { "+" } else { "-" };
        if k == 1 {
            format!("{digits}e{esign}{}", e.abs())
        } else {
            format!("{}.{}e{esign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_follow_ecmascript() {
        for (v, s) in [
            (0.5, "0.5"),
            (1.0, "1"),
            (123.456, "123.456"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (1.5e300, "1.5e+300"),
            (-2.25, "-2.25"),
            (1e20, "100000000000000000000"),
        ] {
            assert_eq!(es6_number(v), s, "{v}");
        }
    }

    #[test]
    fn keys_sort_by_utf16_and_strings_escape_like_js() {
        let v = json!({"\u{e9}": 1, "z": 2, "a\nb": "q\"\u{1}"});
        assert_eq!(
            to_string(&v),
            "{\"a\\nb\":\"q\\\"\\u0001\",\"z\":2,\"\u{e9}\":1}"
        );
    }
}
