//! `conformance-kit`: checks the corpus against the official JS SDK, or records it anew.
//!
//! ```text
//! conformance-kit check  [--js-app DIR] [--only a,b]   # replay, compare, `N passed, N failed`
//! conformance-kit record [--js-app DIR] [--out DIR]    # replay, write the SDK's answers
//! ```
//!
//! `DIR` is an installed copy of `tests/conformance/js/`; without `--js-app` (or
//! `INNGEST_JS_APP_DIR`), `bash .ci/js-sdk.sh` installs one first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use conformance_app::kit::Corpus;
use conformance_app::kit::official::OfficialApps;
use conformance_app::kit::replay::write_answer;

#[derive(Parser)]
#[command(about = "Checks or records the conformance corpus against the official JS SDK")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Common {
    /// The installed JS app (default: the one `bash .ci/js-sdk.sh` installs, run now).
    #[arg(long, env = "INNGEST_JS_APP_DIR", value_name = "DIR")]
    js_app: Option<PathBuf>,
    /// Only these scenarios (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Replays every recorded request to the official SDK and compares its answers with the
    /// recordings in the protocol view.
    Check(Common),
    /// Replays every recorded request to the official SDK and writes its answers (responses and
    /// requests it sent to the API) as the recordings.
    Record {
        #[command(flatten)]
        common: Common,
        /// Write the new corpus here (a copy of the current one, answers replaced) instead of
        /// in place.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() != "node_modules" {
                copy_dir(&entry.path(), &target)?;
            }
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Runs `.ci/js-sdk.sh`, which installs the pinned SDK (once) and prints the app's folder.
fn install_js_app() -> anyhow::Result<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/js-sdk.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        out.status
    );
    let dir = String::from_utf8(out.stdout).context("the folder it printed is not UTF-8")?;
    Ok(PathBuf::from(dir.trim()))
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let source = Corpus::workspace();
    let (common, target) = match &cli.command {
        Command::Check(c) => (c, None),
        Command::Record { common, out } => {
            let target = match out {
                Some(dir) => {
                    copy_dir(source.root(), dir)?;
                    Corpus::at(dir)
                }
                None => source.clone(),
            };
            (common, Some(target))
        }
    };
    let js_app = match &common.js_app {
        Some(dir) => dir.clone(),
        None => install_js_app()?,
    };
    let apps = OfficialApps::start(&js_app).await?;
    let mut passed = 0;
    let mut failed = 0;
    for scenario in source.replayable()? {
        if !common.only.is_empty() && !common.only.contains(&scenario) {
            continue;
        }
        for (ex, checked) in apps.check(&source, &scenario).await? {
            let label = ex
                .request
                .label
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            if checked.diffs.is_empty() {
                passed += 1;
                println!("PASS {}{label}", checked.name);
            } else {
                failed += 1;
                let word = if target.is_some() { "CHANGED" } else { "FAIL" };
                println!("{word} {}{label}", checked.name);
                for d in checked.diffs.iter().take(8) {
                    println!("     {d}");
                }
            }
            if let Some(t) = &target {
                write_answer(
                    &t.scenario_dir(&scenario),
                    &ex,
                    &checked.answer,
                    apps.api_origin(),
                )?;
            }
        }
    }
    apps.stop().await;
    match &target {
        Some(t) => {
            println!(
                "recorded {} answers into {} ({failed} differ from the previous recording in the protocol view)",
                passed + failed,
                t.root().join("recordings").display()
            );
            Ok(true)
        }
        None => {
            println!("{passed} passed, {failed} failed");
            Ok(failed == 0)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
