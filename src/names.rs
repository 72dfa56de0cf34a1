//! Names a user types (`WelcomeUser`, `welcome_user`, `welcome-user`) and the names generated
//! code uses: type, module, file, workflow id, event name.

use heck::{ToKebabCase, ToSnakeCase, ToUpperCamelCase};

/// Rust keywords (2024 edition, strict and reserved): no module may be named after one.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a usable name: {reason}")]
pub struct NameError {
    input: String,
    reason: &'static str,
}

/// The names derived from what the user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `WelcomeUser`.
    pub camel: String,
    /// `welcome_user`.
    pub snake: String,
    /// `welcome-user`.
    pub kebab: String,
}

impl Names {
    /// Parses a name, dropping a trailing `suffix` (`Workflow`) the user may have typed.
    ///
    /// ```ignore
    /// let n = Names::parse("welcome-user", "Workflow").unwrap();
    /// assert_eq!(n.camel, "WelcomeUser");
    /// ```
    pub fn parse(input: &str, suffix: &str) -> Result<Self, NameError> {
        let fail = |reason| NameError {
            input: input.to_string(),
            reason,
        };
        let trimmed = input.trim();
        let first = trimmed.chars().next().ok_or_else(|| fail("it is empty"))?;
        if !first.is_ascii_alphabetic() {
            return Err(fail("it must start with a letter"));
        }
        if !trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(fail("use letters, digits, '_' and '-' only"));
        }
        let mut camel = trimmed.to_upper_camel_case();
        if camel.len() > suffix.len() && camel.ends_with(suffix) {
            camel.truncate(camel.len() - suffix.len());
        }
        let snake = camel.to_snake_case();
        if KEYWORDS.contains(&snake.as_str()) || KEYWORDS.contains(&trimmed) {
            return Err(fail("it is a Rust keyword"));
        }
        Ok(Self {
            kebab: camel.to_kebab_case(),
            snake,
            camel,
        })
    }
}

/// The type name for an event name: `user/user.created` → `UserCreated`.
pub fn event_type_for(event_name: &str) -> Result<String, NameError> {
    let last = event_name.rsplit('/').next().unwrap_or(event_name);
    let words: String = last
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    Names::parse(&words.trim().replace(' ', "_"), "").map(|n| n.camel)
}

/// Names the generated files use for something else: the imports of a workflow or event file,
/// the prelude's types, and crates a module name would shadow.
const TAKEN_TYPES: &[&str] = &[
    "Context",
    "FailureContext",
    "Trigger",
    "Workflow",
    "WorkflowError",
    "WorkflowOptions",
    "ScheduledTimer",
    "Event",
    "Serialize",
    "Deserialize",
    "Result",
    "Option",
    "String",
    "Vec",
    "Box",
    "Value",
];
const TAKEN_MODULES: &[&str] = &["core", "std", "alloc", "serde", "garde", "inngest_runtime"];

/// Checks the type (`type_name`) and module (`module`) an event would be written as: neither
/// may clash with a name the generated code already uses, nor end like the types a workflow
/// file defines (`…Workflow`, `…Output`).
pub fn check_event_type(type_name: &str, module: &str) -> Result<(), NameError> {
    let refused = |reason| {
        Err(NameError {
            input: type_name.to_string(),
            reason,
        })
    };
    if TAKEN_TYPES.contains(&type_name) {
        return refused("the generated code already uses that name; pick another event name");
    }
    if type_name.ends_with("Workflow") || type_name.ends_with("Output") {
        return refused(
            "event types may not end in Workflow or Output, the names of a workflow's own types",
        );
    }
    if TAKEN_MODULES.contains(&module) {
        return refused("its module would shadow a crate of that name; pick another event name");
    }
    Ok(())
}

/// Checks an event name: non-empty, no spaces or quotes.
pub fn check_event_name(name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
    if ok {
        Ok(())
    } else {
        Err(NameError {
            input: name.to_string(),
            reason: "an event name is printable ASCII without spaces or quotes, e.g. user/user.created",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_gives_the_same_names() {
        for input in [
            "WelcomeUser",
            "welcome_user",
            "welcome-user",
            "WelcomeUserWorkflow",
        ] {
            let n = Names::parse(input, "Workflow").expect("valid");
            assert_eq!(n.camel, "WelcomeUser", "{input}");
            assert_eq!(n.snake, "welcome_user", "{input}");
            assert_eq!(n.kebab, "welcome-user", "{input}");
        }
    }

    #[test]
    fn non_identifiers_are_refused() {
        for bad in ["123", "fn", "a b", "", "é", "struct", "Self", "x!"] {
            assert!(Names::parse(bad, "Workflow").is_err(), "{bad:?}");
        }
        assert!(Names::parse("Workflow", "Workflow").is_ok());
    }

    #[test]
    fn event_types_come_from_event_names() {
        assert_eq!(
            event_type_for("user/user.created").expect("valid"),
            "UserCreated"
        );
        assert_eq!(
            event_type_for("billing/payment-succeeded").expect("valid"),
            "PaymentSucceeded"
        );
        assert!(event_type_for("a/1.2").is_err());
        assert!(check_event_name("user/user.created").is_ok());
        assert!(check_event_name("has space").is_err());
        assert!(check_event_name("quo\"te").is_err());
    }
}
