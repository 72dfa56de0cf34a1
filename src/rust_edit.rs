//! Small, line-based edits to Rust files `cargo inngest` manages: `mod` declarations, the
//! workflow list in `src/inngest.rs`, and `pub mod`/`pub use` pairs in module files.

/// The marker line in `src/inngest.rs` above which workflows are registered.
pub const REGISTER_MARKER: &str =
    "// `cargo inngest make workflow` registers new workflows above this line.";

/// Whether `text` declares module `name` (`mod name;` or `pub mod name;`, any visibility).
pub fn declares_mod(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l.strip_suffix(';')
            .and_then(|l| l.rsplit_once("mod "))
            .is_some_and(|(vis, m)| {
                m.trim() == name && (vis.is_empty() || vis.trim().starts_with("pub"))
            })
            || l == format!("mod {name} {{")
    })
}

/// Adds `<prefix>mod <name>;` lines that are missing, after the file's other `mod` lines, or
/// after its header: comments (`//`, `//!`, `/* */`, `/*! */`) and inner attributes (`#![…]`,
/// over several lines too). The file's line endings (`\n` or `\r\n`) are kept.
pub fn add_mods(text: &str, names: &[&str], prefix: &str) -> String {
    let missing: Vec<&&str> = names.iter().filter(|n| !declares_mod(text, n)).collect();
    if missing.is_empty() {
        return text.to_string();
    }
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = text.lines().collect();
    let last_mod = lines.iter().rposition(|l| {
        let t = l.trim_start();
        (t.starts_with("mod ") || t.starts_with("pub mod ") || t.starts_with("pub(crate) mod "))
            && t.ends_with(';')
    });
    let insert_at = match last_mod {
        Some(i) => i + 1,
        None => header_end(&lines),
    };
    let mut out: Vec<String> = lines[..insert_at].iter().map(|s| s.to_string()).collect();
    let needs_blank_before =
        last_mod.is_none() && insert_at > 0 && !lines[insert_at - 1].trim().is_empty();
    if needs_blank_before {
        out.push(String::new());
    }
    for n in missing {
        out.push(format!("{prefix}mod {n};"));
    }
    if last_mod.is_none() && insert_at < lines.len() && !lines[insert_at].trim().is_empty() {
        out.push(String::new());
    }
    out.extend(lines[insert_at..].iter().map(|s| s.to_string()));
    let mut joined = out.join(newline);
    if text.ends_with('\n') || text.is_empty() {
        joined.push_str(newline);
    }
    joined
}

/// The index of the first line after a file's header: blank lines, comments of every kind and
/// inner attributes, which must all come before the first item.
fn header_end(lines: &[&str]) -> usize {
    let mut in_comment = false;
    // Open brackets of an inner attribute that goes on over several lines.
    let mut open_brackets: i64 = 0;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if open_brackets > 0 {
            open_brackets += brackets(t);
            continue;
        }
        if in_comment {
            in_comment = !t.contains("*/");
            continue;
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        if let Some(rest) = t.strip_prefix("/*") {
            in_comment = !rest.contains("*/");
            continue;
        }
        if t.starts_with("#![") {
            open_brackets = brackets(t);
            continue;
        }
        return i;
    }
    lines.len()
}

/// `[` minus `]` on a line (an attribute's strings with brackets in them are rare enough).
fn brackets(line: &str) -> i64 {
    line.chars().fold(0, |n, c| match c {
        '[' => n + 1,
        ']' => n - 1,
        _ => n,
    })
}

/// Adds `pub mod <module>;` and `pub use <module>::<ty>;` to a module file, if missing.
pub fn add_export(text: &str, module: &str, ty: &str) -> String {
    if declares_mod(text, module) {
        return text.to_string();
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("\npub mod {module};\npub use {module}::{ty};\n"));
    out
}

/// `new` (a module file rendered again) with the `pub mod <m>;` / `pub use <m>::<T>;` pairs of
/// `old` that it lacks: what `make` added survives `configure --force`.
pub fn carry_exports(old: &str, new: &str) -> String {
    let mut out = new.to_string();
    for line in old.lines() {
        let Some(module) = line
            .trim()
            .strip_prefix("pub mod ")
            .and_then(|m| m.strip_suffix(';'))
        else {
            continue;
        };
        let prefix = format!("pub use {module}::");
        let ty = old.lines().find_map(|l| {
            l.trim()
                .strip_prefix(prefix.as_str())
                .and_then(|t| t.strip_suffix(';'))
        });
        if let Some(ty) = ty {
            out = add_export(&out, module, ty);
        }
    }
    out
}

/// `new` (`src/inngest.rs` rendered again) with the workflows `old` registered: what `make`
/// registered survives `configure --force`. A registration the new text has no marker for is
/// left out, and returned.
pub fn carry_registrations(old: &str, new: &str) -> (String, Vec<String>) {
    let mut out = new.to_string();
    let mut lost = Vec::new();
    for line in old.lines() {
        let Some(expr) = line
            .trim()
            .strip_prefix(".register(")
            .and_then(|e| e.strip_suffix(')'))
        else {
            continue;
        };
        match register(&out, expr) {
            Ok(text) => out = text,
            Err(_) => lost.push(expr.to_string()),
        }
    }
    (out, lost)
}

/// Why a workflow could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot find the line `{REGISTER_MARKER}` in it; add `.register({0})` to the App builder yourself, or restore that line"
)]
pub struct NoMarker(pub String);

/// Registers `expr` (e.g. `crate::workflows::WelcomeUserWorkflow::default()`) above the marker.
pub fn register(text: &str, expr: &str) -> Result<String, NoMarker> {
    let line = format!(".register({expr})");
    if text.lines().any(|l| l.trim() == line) {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len() + line.len() + 16);
    let mut found = false;
    for l in text.split_inclusive('\n') {
        if !found && l.trim() == REGISTER_MARKER {
            let indent: String = l.chars().take_while(|c| c.is_whitespace()).collect();
            out.push_str(&format!("{indent}{line}\n"));
            found = true;
        }
        out.push_str(l);
    }
    if found {
        Ok(out)
    } else {
        Err(NoMarker(expr.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod_lines_go_after_the_others_or_after_the_header() {
        let main = "//! App.\n\nmod db;\n\nfn main() {}\n";
        assert_eq!(
            add_mods(main, &["db", "inngest"], ""),
            "//! App.\n\nmod db;\nmod inngest;\n\nfn main() {}\n"
        );
        let lib = "//! Lib.\n#![forbid(unsafe_code)]\n\npub fn f() {}\n";
        assert_eq!(
            add_mods(lib, &["inngest"], "pub "),
            "//! Lib.\n#![forbid(unsafe_code)]\n\npub mod inngest;\n\npub fn f() {}\n"
        );
        assert_eq!(add_mods("", &["a"], ""), "mod a;\n");
        // A licence line before the docs, an attribute over several lines, a block comment.
        let spdx = "// SPDX-License-Identifier: MIT\n//! Lib.\n#![cfg_attr(\n    docsrs,\n    feature(doc_cfg)\n)]\n/*! More. */\n\npub fn f() {}\n";
        assert_eq!(
            add_mods(spdx, &["inngest"], "pub "),
            "// SPDX-License-Identifier: MIT\n//! Lib.\n#![cfg_attr(\n    docsrs,\n    feature(doc_cfg)\n)]\n/*! More. */\n\npub mod inngest;\n\npub fn f() {}\n"
        );
        let block = "/*!\n * Lib.\n */\nuse std::fmt;\n";
        assert_eq!(
            add_mods(block, &["inngest"], ""),
            "/*!\n * Lib.\n */\n\nmod inngest;\n\nuse std::fmt;\n"
        );
        // A bracket inside an attribute's string: the header seems to run on, and the line goes
        // at the end, where a `mod` declaration is valid too; nothing of the file is lost.
        let odd = "#![doc = \"[\"]\nfn main() {}\n";
        assert_eq!(
            add_mods(odd, &["inngest"], ""),
            "#![doc = \"[\"]\nfn main() {}\n\nmod inngest;\n"
        );
        // Windows line endings stay.
        assert_eq!(
            add_mods("//! App.\r\n\r\nfn main() {}\r\n", &["inngest"], ""),
            "//! App.\r\n\r\nmod inngest;\r\n\r\nfn main() {}\r\n"
        );
        assert_eq!(add_mods(main, &["db"], ""), main);
        assert!(declares_mod("pub(crate) mod inngest;", "inngest"));
    }

    #[test]
    fn what_make_added_is_carried_into_a_regenerated_file() {
        let fresh =
            "//! Workflows.\n\npub mod hello_workflow;\npub use hello_workflow::HelloWorkflow;\n";
        let old = format!(
            "{fresh}\npub mod refund_workflow;\npub use refund_workflow::RefundWorkflow;\n"
        );
        assert_eq!(carry_exports(&old, fresh), old);
        assert_eq!(carry_exports(fresh, fresh), fresh);

        let config = |lines: &str| {
            format!(
                "    App::builder(client)\n{lines}        {REGISTER_MARKER}\n        .build()\n"
            )
        };
        let hello = "        .register(crate::workflows::HelloWorkflow::default())\n";
        let refund = "        .register(crate::workflows::RefundWorkflow::default())\n";
        let (carried, lost) =
            carry_registrations(&config(&format!("{hello}{refund}")), &config(hello));
        assert_eq!(carried, config(&format!("{hello}{refund}")));
        assert!(lost.is_empty());
        let (_, lost) = carry_registrations(&config(refund), "no marker here\n");
        assert_eq!(lost, ["crate::workflows::RefundWorkflow::default()"]);
    }

    #[test]
    fn workflows_register_above_the_marker_once() {
        let text =
            format!("    App::builder(client)\n        {REGISTER_MARKER}\n        .build()\n");
        let once = register(&text, "crate::workflows::A::default()").expect("marker");
        assert_eq!(
            once,
            format!(
                "    App::builder(client)\n        .register(crate::workflows::A::default())\n        {REGISTER_MARKER}\n        .build()\n"
            )
        );
        assert_eq!(
            register(&once, "crate::workflows::A::default()").expect("marker"),
            once
        );
        assert!(register("App::builder(c).build()", "x").is_err());
    }

    #[test]
    fn exports_are_added_once() {
        let once = add_export("//! Workflows.\n", "a_workflow", "AWorkflow");
        assert_eq!(
            once,
            "//! Workflows.\n\npub mod a_workflow;\npub use a_workflow::AWorkflow;\n"
        );
        assert_eq!(add_export(&once, "a_workflow", "AWorkflow"), once);
    }
}
