//! What the embedded server's runs do, one line each: every failed attempt (step, error,
//! attempt n of m, next try) and every run's end (status, output, and a link to its page).

use std::borrow::Cow;

use inngest_devserver::{DevServer, FailedAttempt};

use super::console::{Console, Source};

/// How much of a run's output a line shows, in characters.
const OUTPUT_CHARS: usize = 200;

/// Prints every failed attempt and every finished run of `server`, until it stops.
pub fn report(server: &DevServer, console: &Console) {
    report_failed_attempts(server, console);
    report_finished(server, console);
}

/// One line per failed attempt, so that the wait for a retry is not silent.
fn report_failed_attempts(server: &DevServer, console: &Console) {
    let mut failed = server.engine().subscribe_failed_attempts();
    let console = console.clone();
    tokio::spawn(async move {
        loop {
            match failed.recv().await {
                Ok(attempt) => console.line(Source::Server, &failed_attempt_line(&attempt)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    });
}

/// `run <id> <function>: step "<step>" failed (attempt n of m): <error>; next try at <time>
/// (in <s> s)`, or `…; no retry` for a final failure.
fn failed_attempt_line(a: &FailedAttempt) -> String {
    let what = match &a.step {
        Some(step) => format!("step {step:?} failed"),
        None => "failed".to_string(),
    };
    let next = match &a.retry_at {
        Some(at) => match a.retry_in_ms {
            Some(ms) => format!("next try at {at} (in {} s)", ms.div_ceil(1000)),
            None => format!("next try at {at}"),
        },
        None if a.attempt.saturating_add(1) >= a.max_attempts => "no attempts left".to_string(),
        None => "not retried".to_string(),
    };
    format!(
        "run {} {}: {what} (attempt {} of {}): {}; {next}",
        a.run_id,
        a.function_id,
        a.attempt.saturating_add(1),
        a.max_attempts,
        clip(&a.error, OUTPUT_CHARS)
    )
}

/// One line per finished run.
fn report_finished(server: &DevServer, console: &Console) {
    let mut finished = server.engine().subscribe_finished();
    let console = console.clone();
    let base = server.url().to_string();
    tokio::spawn(async move {
        loop {
            match finished.recv().await {
                Ok(run) => {
                    let output = run.output.map(|o| o.to_string()).unwrap_or_default();
                    console.line(
                        Source::Server,
                        &format!(
                            "run {} {} {:?}: {} ({base}/runs/{})",
                            run.run_id,
                            run.function_id,
                            run.status,
                            clip(&output, OUTPUT_CHARS),
                            run.run_id
                        ),
                    );
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    });
}

/// `text` cut to its first `max` characters, with `…` when something was cut.
fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::{FailedAttempt, clip, failed_attempt_line};

    fn attempt(step: Option<&str>, attempt: u32, retry_at: Option<&str>) -> FailedAttempt {
        let retry_in_ms = retry_at.map(|_| 14_200);
        FailedAttempt {
            run_id: "01KRUN".into(),
            function_id: "shop-welcome-user".into(),
            step: step.map(str::to_string),
            error: "Error: smtp down".into(),
            attempt,
            max_attempts: 4,
            retry_at: retry_at.map(str::to_string),
            retry_in_ms,
        }
    }

    #[test]
    fn a_failed_attempt_says_which_of_how_many_and_when_the_next_is() {
        assert_eq!(
            failed_attempt_line(&attempt(
                Some("send-welcome-email"),
                0,
                Some("2026-01-01T00:00:15.000Z")
            )),
            "run 01KRUN shop-welcome-user: step \"send-welcome-email\" failed (attempt 1 of 4): Error: smtp down; next try at 2026-01-01T00:00:15.000Z (in 15 s)"
        );
        assert_eq!(
            failed_attempt_line(&attempt(Some("send-welcome-email"), 3, None)),
            "run 01KRUN shop-welcome-user: step \"send-welcome-email\" failed (attempt 4 of 4): Error: smtp down; no attempts left"
        );
        assert_eq!(
            failed_attempt_line(&attempt(None, 1, None)),
            "run 01KRUN shop-welcome-user: failed (attempt 2 of 4): Error: smtp down; not retried"
        );
    }

    #[test]
    fn long_output_is_cut_at_a_character_boundary() {
        // Byte 200 falls inside an `é` (two bytes, after one `a`).
        let text = format!("a{}", "é".repeat(300));
        assert!(!text.is_char_boundary(200));
        let clipped = clip(&text, 200);
        assert_eq!(clipped, format!("a{}…", "é".repeat(199)));
        let emoji = "🦀".repeat(201);
        assert_eq!(clip(&emoji, 200), format!("{}…", "🦀".repeat(200)));
    }

    #[test]
    fn short_output_is_kept_whole() {
        let text = "é".repeat(200);
        assert_eq!(clip(&text, 200), text.as_str());
        assert_eq!(clip("", 200), "");
        assert_eq!(clip("{\"ok\":true}", 200), "{\"ok\":true}");
    }
}
