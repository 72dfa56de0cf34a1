//! Reading back what a project declares: its events (`src/events/*.rs`) and workflows
//! (`src/workflows/*.rs`), and which workflows `src/inngest.rs` registers.

use std::path::Path;

use crate::project::Project;

/// An event type found in `src/events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEvent {
    /// The Rust type.
    pub type_name: String,
    /// Its `NAME`.
    pub event_name: String,
    /// The file, relative to the package.
    pub file: String,
}

/// A workflow type found in `src/workflows`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundWorkflow {
    /// The Rust type.
    pub type_name: String,
    /// Its id (`WorkflowOptions::new("…")`).
    pub id: String,
    /// `event:<type>` or `cron:<schedule>`.
    pub trigger: String,
    /// Whether `src/inngest.rs` registers it.
    pub registered: bool,
    /// The file, relative to the package.
    pub file: String,
}

fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter(|p| p.file_name().is_some_and(|n| n != "mod.rs"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p.file_name()?.to_string_lossy().to_string(), text))
        })
        .collect();
    files.sort();
    files
}

/// The text between the first pair of quotes after `marker`.
fn quoted_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(&rest[start..start + len])
}

/// The identifier after `marker` (e.g. the type in `impl Event for X`).
fn ident_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = text[text.find(marker)? + marker.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Every event type of the project.
pub fn events(project: &Project) -> Vec<FoundEvent> {
    rust_files(&project.path("src/events"))
        .into_iter()
        .filter_map(|(file, text)| {
            Some(FoundEvent {
                type_name: ident_after(&text, "impl Event for ")?.to_string(),
                event_name: quoted_after(&text, "const NAME: &'static str =")?.to_string(),
                file: format!("src/events/{file}"),
            })
        })
        .collect()
}

/// Rust source without its comments (`// …` and `/* … */`), string literals kept, so code that
/// is commented out does not count as code.
fn without_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                while let Some(s) = chars.next() {
                    out.push(s);
                    match s {
                        '\\' => {
                            if let Some(escaped) = chars.next() {
                                out.push(escaped);
                            }
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for s in chars.by_ref() {
                    if prev == '*' && s == '/' {
                        break;
                    }
                    prev = s;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every workflow type of the project.
pub fn workflows(project: &Project) -> Vec<FoundWorkflow> {
    let config = without_comments(
        &std::fs::read_to_string(project.path("src/inngest.rs")).unwrap_or_default(),
    );
    rust_files(&project.path("src/workflows"))
        .into_iter()
        .filter_map(|(file, text)| {
            let type_name = ident_after(&text, "impl Workflow for ")?.to_string();
            let trigger = match quoted_after(&text, "Trigger::cron(") {
                Some(cron) => format!("cron:{cron}"),
                None => format!("event:{}", ident_after(&text, "type Event =")?),
            };
            Some(FoundWorkflow {
                registered: config.contains(&format!("::{type_name}::"))
                    || config.contains(&format!("({type_name}")),
                id: quoted_after(&text, "WorkflowOptions::new(")?.to_string(),
                trigger,
                type_name,
                file: format!("src/workflows/{file}"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commented_out_code_is_not_code() {
        let src = "let app = App::builder(c)\n    // .register(Old)\n    /* .register(Older) */\n    .register(New) // done\n    .url(\"http://x/*not a comment*/\");\n";
        let code = without_comments(src);
        assert!(!code.contains("Old"), "{code}");
        assert!(code.contains(".register(New)"), "{code}");
        assert!(code.contains("\"http://x/*not a comment*/\""), "{code}");
    }
}
