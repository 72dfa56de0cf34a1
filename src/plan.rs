//! A set of file changes made all together or not at all.
//!
//! Commands first compute every change, then either print them as a diff (`--dry-run`) or
//! apply them: each new content goes to a temporary file beside its target, and only when every
//! temporary file is written are they renamed over the targets. Any failure before that leaves
//! every file as it was.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// One file's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The file.
    pub path: PathBuf,
    /// Its content before (`None`: it does not exist yet).
    pub before: Option<String>,
    /// Its content after.
    pub after: String,
}

/// The changes of one command.
#[derive(Debug, Default)]
pub struct Plan {
    changes: Vec<Change>,
    /// Files left alone, with why.
    pub kept: Vec<(PathBuf, &'static str)>,
}

impl Plan {
    /// The changes, in order.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The planned content of `path`, if the plan changes it, else what is on disk.
    pub fn current(&self, path: &Path) -> anyhow::Result<Option<String>> {
        if let Some(c) = self.changes.iter().rev().find(|c| c.path == path) {
            return Ok(Some(c.after.clone()));
        }
        match std::fs::read_to_string(path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Sets `path` to `after` (a no-op when it already holds that).
    pub fn set(&mut self, path: PathBuf, after: String) -> anyhow::Result<()> {
        let before = match std::fs::read_to_string(&path) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        self.changes.retain(|c| c.path != path);
        if before.as_deref() != Some(after.as_str()) {
            self.changes.push(Change {
                path,
                before,
                after,
            });
        }
        Ok(())
    }

    /// Creates `path` unless it exists: then it is kept (and noted) unless `force`.
    pub fn create(&mut self, path: PathBuf, content: String, force: bool) -> anyhow::Result<()> {
        if path.exists() && !force {
            self.kept.push((path, "exists; --force overwrites it"));
            return Ok(());
        }
        self.set(path, content)
    }

    /// One line per changed file: `created` or `updated`, relative to `root`.
    pub fn report(&self, root: &Path) -> Vec<String> {
        self.changes
            .iter()
            .map(|c| {
                let rel = c.path.strip_prefix(root).unwrap_or(&c.path).display();
                let how = if c.before.is_some() {
                    "updated"
                } else {
                    "created"
                };
                format!("{how} {rel}")
            })
            .collect()
    }

    /// A unified diff of every change, paths relative to `root`.
    pub fn diff(&self, root: &Path) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let rel = c
                .path
                .strip_prefix(root)
                .unwrap_or(&c.path)
                .display()
                .to_string();
            let before = c.before.as_deref().unwrap_or("");
            let old_name = if c.before.is_some() {
                format!("a/{rel}")
            } else {
                "/dev/null".into()
            };
            let diff = similar::TextDiff::from_lines(before, c.after.as_str());
            out.push_str(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header(&old_name, &format!("b/{rel}"))
                    .to_string(),
            );
        }
        out
    }

    /// Applies every change, or none.
    pub fn apply(&self) -> anyhow::Result<()> {
        for c in &self.changes {
            if let Ok(meta) = std::fs::metadata(&c.path) {
                if meta.permissions().readonly() {
                    bail!("{} is read-only; nothing was changed", c.path.display());
                }
            }
        }
        let mut temps: Vec<(PathBuf, &Path)> = Vec::new();
        let result = (|| -> anyhow::Result<()> {
            for c in &self.changes {
                let dir = c.path.parent().context("a file has a directory")?;
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let name = c
                    .path
                    .file_name()
                    .context("a file has a name")?
                    .to_string_lossy();
                let temp = dir.join(format!(".{name}.cargo-inngest.tmp"));
                std::fs::write(&temp, &c.after)
                    .with_context(|| format!("cannot write {}", temp.display()))?;
                if let Ok(meta) = std::fs::metadata(&c.path) {
                    let _ = std::fs::set_permissions(&temp, meta.permissions());
                }
                temps.push((temp, &c.path));
            }
            Ok(())
        })();
        if let Err(e) = result {
            for (temp, _) in &temps {
                let _ = std::fs::remove_file(temp);
            }
            return Err(e.context("nothing was changed"));
        }
        for (temp, target) in &temps {
            std::fs::rename(temp, target)
                .with_context(|| format!("cannot replace {}", target.display()))?;
        }
        Ok(())
    }
}
