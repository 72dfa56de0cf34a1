//! The runs the embedded server finishes, one line each: id, function, status and output.

use std::borrow::Cow;

use inngest_devserver::DevServer;

use super::console::{Console, Source};

/// How much of a run's output a line shows, in characters.
const OUTPUT_CHARS: usize = 200;

/// Prints every run `server` finishes, until it stops.
pub fn report(server: &DevServer, console: &Console) {
    let mut finished = server.engine().subscribe_finished();
    let console = console.clone();
    tokio::spawn(async move {
        loop {
            match finished.recv().await {
                Ok(run) => {
                    let output = run.output.map(|o| o.to_string()).unwrap_or_default();
                    console.line(
                        Source::Server,
                        &format!(
                            "run {} {} {:?}: {}",
                            run.run_id,
                            run.function_id,
                            run.status,
                            clip(&output, OUTPUT_CHARS)
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
    use super::clip;

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
