//! How an error is shown: its message, then each cause it wraps, each said once.
//!
//! Some errors put their cause in their own message *and* return it as their source (for
//! example `cannot listen on 127.0.0.1:8288: Address in use`, whose source is the OS error);
//! printing the chain as it is would say the cause twice. A cause whose text already ends the
//! message before it is left out.

use std::error::Error;

/// `error: cause: its cause…`, each cause said once.
pub fn render(err: &(dyn Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut last = out.clone();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !last.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    /// Says its cause in its message and returns it as its source, as a bind error may.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:1: {source}")]
    struct Repeats {
        source: std::io::Error,
    }

    /// Leaves its cause to the chain.
    #[derive(Debug, thiserror::Error)]
    #[error("the dev server did not start")]
    struct Wraps(#[source] Repeats);

    #[test]
    fn each_cause_is_said_once() {
        let os = || std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address in use");
        let err = Wraps(Repeats { source: os() });
        assert_eq!(
            render(&err),
            "the dev server did not start: cannot listen on 127.0.0.1:1: Address in use"
        );
        let err = anyhow::Error::new(Wraps(Repeats { source: os() })).context("dev");
        assert_eq!(
            render(err.as_ref()),
            "dev: the dev server did not start: cannot listen on 127.0.0.1:1: Address in use"
        );
    }

    #[test]
    fn causes_that_are_not_repeated_are_all_shown() {
        let err = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(render(err.as_ref()), "outer: middle: inner");
    }
}
