//! Which `inngest-runtime` a configured project depends on, and why.
//!
//! By default, the runtime this `cargo-inngest` was built from when that checkout is still on
//! disk (a path dependency: it is the same code, and it resolves without a registry), otherwise
//! the published version this `cargo-inngest` was built against. `--runtime-path`,
//! `--runtime-git` (with `--rev` or `--tag`) and `--runtime-version` choose instead.

use std::path::{Path, PathBuf};

use crate::manifest::{GitRef, Source};

/// The runtime's version this binary was built with.
const BUILT_WITH: &str = inngest_runtime::protocol::headers::SDK_VERSION;

/// A source and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Where the dependency comes from.
    pub source: Source,
    /// Why, for configure's output.
    pub why: &'static str,
    /// Whether the user named it (then it replaces an existing entry's source).
    pub named: bool,
}

/// What the command line said.
#[derive(Debug, Default, Clone)]
pub struct Requested {
    /// `--runtime-path`.
    pub path: Option<PathBuf>,
    /// `--runtime-git`.
    pub git: Option<String>,
    /// `--rev` or `--tag` with `--runtime-git`.
    pub git_ref: Option<GitRef>,
    /// `--runtime-version`.
    pub version: Option<String>,
}

/// The checkout this binary was built from, if its runtime crate is still there.
///
/// A source cargo unpacked for `cargo install` (under `CARGO_HOME`: `registry/`, `git/`) is not
/// a checkout: cargo may delete it, and a path into it would break later.
pub fn built_from_checkout() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("crates/inngest-runtime");
    (is_runtime_crate(&dir) && !under_cargo_home(root)).then_some(dir)
}

/// Whether `dir` lies in cargo's own storage.
fn under_cargo_home(dir: &Path) -> bool {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    home.is_some_and(|h| dir.starts_with(h.join("registry")) || dir.starts_with(h.join("git")))
}

/// Whether `dir` holds the `inngest-runtime` package.
pub fn is_runtime_crate(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return false;
    };
    text.parse::<toml_edit::DocumentMut>().is_ok_and(|doc| {
        doc.get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            == Some("inngest-runtime")
    })
}

/// The requirement for the published runtime this binary was built against: `major.minor`
/// (`0.1.3` gives `"0.1"`).
///
pub fn published_requirement() -> String {
    requirement_of(BUILT_WITH)
}

fn requirement_of(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        _ => version.to_string(),
    }
}

/// The source to use. `relative_to` turns a path into one relative to the project (`checkout`
/// is where the built-from runtime is, `None` when it is gone).
pub fn choose(
    requested: &Requested,
    checkout: Option<&Path>,
    relative_to: impl Fn(&Path) -> String,
) -> Choice {
    if let Some(p) = &requested.path {
        return Choice {
            source: Source::Path(relative_to(p)),
            why: "--runtime-path",
            named: true,
        };
    }
    if let Some(url) = &requested.git {
        return Choice {
            source: Source::Git {
                url: url.clone(),
                reference: requested.git_ref.clone(),
            },
            why: "--runtime-git",
            named: true,
        };
    }
    if let Some(v) = &requested.version {
        return Choice {
            source: Source::Registry(v.clone()),
            why: "--runtime-version",
            named: true,
        };
    }
    match checkout {
        Some(dir) => Choice {
            source: Source::Path(relative_to(dir)),
            why: "the checkout this cargo-inngest was built from",
            named: false,
        },
        None => Choice {
            source: Source::Registry(published_requirement()),
            why: "the published version this cargo-inngest was built against; until the crates are on crates.io, pass --runtime-path or --runtime-git",
            named: false,
        },
    }
}

/// Where `inngest-devserver` (the test engine the generated tests use) comes from, given where
/// the runtime does: the sibling crate of a path, the same repository, or the same version.
pub fn devserver_source(runtime: &Source) -> Source {
    match runtime {
        Source::Path(p) => {
            let runtime = Path::new(p);
            let sibling = match runtime.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.join("inngest-devserver"),
                _ => PathBuf::from("../inngest-devserver"),
            };
            Source::Path(sibling.to_string_lossy().into_owned())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(p: &Path) -> String {
        format!("rel:{}", p.display())
    }

    #[test]
    fn the_checkout_when_it_exists_else_the_published_version() {
        let here = built_from_checkout().expect("tests run in the checkout");
        let c = choose(&Requested::default(), Some(&here), rel);
        assert_eq!(c.source, Source::Path(rel(&here)));
        assert!(!c.named);
        let c = choose(&Requested::default(), None, rel);
        assert_eq!(c.source, Source::Registry(requirement_of(BUILT_WITH)));
        assert!(!c.named);
    }

    #[test]
    fn a_named_source_wins_and_replaces() {
        let req = Requested {
            git: Some("https://example.invalid/x.git".into()),
            git_ref: Some(GitRef::Rev("abc".into())),
            ..Requested::default()
        };
        let c = choose(&req, None, rel);
        assert!(c.named);
        assert_eq!(
            c.source,
            Source::Git {
                url: "https://example.invalid/x.git".into(),
                reference: Some(GitRef::Rev("abc".into()))
            }
        );
        let req = Requested {
            version: Some("=0.1.0".into()),
            ..Requested::default()
        };
        assert_eq!(
            choose(&req, None, rel).source,
            Source::Registry("=0.1.0".into())
        );
    }

    #[test]
    fn requirements_keep_major_and_minor() {
        assert_eq!(requirement_of("0.1.3"), "0.1");
        assert_eq!(requirement_of("1.20.0-beta.1"), "1.20");
        assert!(!is_runtime_crate(Path::new("/nonexistent")));
    }

    #[test]
    fn the_devserver_comes_from_where_the_runtime_does() {
        assert_eq!(
            devserver_source(&Source::Path(
                "../cargo-inngest/crates/inngest-runtime".into()
            )),
            Source::Path("../cargo-inngest/crates/inngest-devserver".into())
        );
        assert_eq!(
            devserver_source(&Source::Registry("0.1".into())),
            Source::Registry("0.1".into())
        );
    }
}
