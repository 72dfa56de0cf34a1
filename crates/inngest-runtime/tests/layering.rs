//! The runtime's modules import one way: `execution` (the wire rules of a request and its
//! steps) knows nothing of `step` (the user-facing tools), which knows nothing of `workflow`
//! (the user's trait), which knows nothing of `app` (registration), which knows nothing of
//! `serve` (HTTP). Read from the sources, so a new import against the grain fails here.

use std::path::{Path, PathBuf};

/// From the lowest layer up: each may use those before it, never those after it.
const LAYERS: [&str; 5] = ["execution", "step", "workflow", "app", "serve"];

fn sources(module: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let file = src.join(format!("{module}.rs"));
    let dir = src.join(module);
    let mut out = Vec::new();
    if file.is_file() {
        out.push(file);
    }
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "rs") {
                out.push(e.path());
            }
        }
    }
    assert!(!out.is_empty(), "no sources for module {module}");
    out
}

/// Lines of `text` that name `crate::<module>` outside comments.
fn uses(text: &str, module: &str) -> Vec<String> {
    let needle = format!("crate::{module}");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .filter(|l| {
            l.match_indices(&needle).any(|(i, _)| {
                let next = l[i + needle.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let mut violations = Vec::new();
    for (i, lower) in LAYERS.iter().enumerate() {
        for path in sources(lower) {
            let text = std::fs::read_to_string(&path).expect("a source file reads");
            for upper in &LAYERS[i + 1..] {
                for line in uses(&text, upper) {
                    violations.push(format!("{} uses {upper}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_check_sees_an_import() {
    assert_eq!(uses("use crate::step::Step;", "step").len(), 1);
    assert!(uses("use crate::step_id::hash;", "step").is_empty());
    assert!(uses("// see crate::step", "step").is_empty());
}
