//! One console for everything `dev` runs: each line prefixed with its source (`dev-server`,
//! `build`, `app`, `dev`) in its own colour, and a spinner while building.

use std::sync::Arc;
use std::time::Duration;

use console::Style;

/// Where a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `cargo inngest dev` itself.
    Dev,
    /// The dev server (embedded or official).
    Server,
    /// `cargo build`.
    Build,
    /// The user's app.
    App,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Dev => "dev",
            Source::Server => "dev-server",
            Source::Build => "build",
            Source::App => "app",
        }
    }

    fn style(self) -> Style {
        match self {
            Source::Dev => Style::new().bold().green(),
            Source::Server => Style::new().magenta(),
            Source::Build => Style::new().yellow(),
            Source::App => Style::new().cyan(),
        }
    }
}

/// The shared console. Cheap to clone.
#[derive(Clone)]
pub struct Console {
    spinner: Arc<std::sync::Mutex<Option<indicatif::ProgressBar>>>,
}

impl Console {
    pub fn new() -> Self {
        Self {
            spinner: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// Prints one line from `source`.
    pub fn line(&self, source: Source, text: &str) {
        let prefix = source.style().apply_to(format!("{:>10} │", source.label()));
        let line = format!("{prefix} {text}");
        match self.spinner.lock().ok().and_then(|s| s.clone()) {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    /// Prints several lines from `source`.
    pub fn lines(&self, source: Source, text: &str) {
        for l in text.lines() {
            self.line(source, l);
        }
    }

    /// Shows a spinner with `message` until [`Console::done`].
    pub fn busy(&self, message: &str) {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{:>10} │ {{spinner}} {{msg}} {{elapsed}}",
                Source::Build.label()
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        if let Ok(mut s) = self.spinner.lock() {
            *s = Some(bar);
        }
    }

    /// Removes the spinner.
    pub fn done(&self) {
        if let Some(bar) = self.spinner.lock().ok().and_then(|mut s| s.take()) {
            bar.finish_and_clear();
        }
    }
}
