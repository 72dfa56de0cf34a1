//! A set of file changes made all together or not at all.
//!
//! Commands first compute every change, then either print them as a diff (`--dry-run`) or
//! apply them: each new content goes to a temporary file beside its target, and only when every
//! temporary file is written are they renamed over the targets. A failure before the renames
//! removes the temporary files (and the directories made for them). A failed rename undoes the
//! renames before it: the old content of each replaced file, kept until every rename is done,
//! is written back, and each created file is removed. Either way every file is as it was.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

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
    pub fn apply(&self) -> Result<(), ApplyError> {
        self.apply_with(|from, to| std::fs::rename(from, to))
    }

    /// [`Plan::apply`], renaming with `rename` (tests make it fail).
    fn apply_with(
        &self,
        mut rename: impl FnMut(&Path, &Path) -> std::io::Result<()>,
    ) -> Result<(), ApplyError> {
        for c in &self.changes {
            if let Ok(meta) = std::fs::metadata(&c.path) {
                if meta.permissions().readonly() {
                    return Err(ApplyError::ReadOnly {
                        path: c.path.clone(),
                    });
                }
            }
        }
        let mut undo = Undo::default();
        let mut staged: Vec<Staged<'_>> = Vec::new();
        for c in &self.changes {
            match stage(c, &mut undo) {
                Ok(s) => staged.push(s),
                Err(e) => {
                    undo.temps.extend(staged.into_iter().map(|s| s.temp));
                    undo.run();
                    return Err(e);
                }
            }
        }
        for (i, s) in staged.iter().enumerate() {
            if let Err(source) = rename(&s.temp, s.target) {
                undo.temps
                    .extend(staged[i..].iter().map(|s| s.temp.clone()));
                let unrestored = undo.restore(&staged[..i]);
                undo.run();
                let path = s.target.to_path_buf();
                return Err(if unrestored.is_empty() {
                    ApplyError::Replace { path, source }
                } else {
                    ApplyError::Restore {
                        path,
                        source,
                        unrestored,
                    }
                });
            }
        }
        Ok(())
    }
}

/// Why a plan was not applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A file to change is read-only.
    #[error("{} is read-only; nothing was changed", path.display())]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// A file or its directory cannot be made ready.
    #[error("cannot {what} {}; nothing was changed", path.display())]
    Stage {
        /// What could not be done: `read`, `write` or `create`.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be replaced; those replaced before it were restored.
    #[error("cannot replace {}; the files replaced before it were restored, so nothing was changed", path.display())]
    Replace {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be replaced, and some replaced before it could not be restored.
    #[error(
        "cannot replace {}, and cannot restore {}",
        path.display(),
        unrestored.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Restore {
        /// The file.
        path: PathBuf,
        /// Why it could not be replaced.
        source: std::io::Error,
        /// The files left changed.
        unrestored: Vec<PathBuf>,
    },
}

/// A change ready to be renamed into place.
struct Staged<'a> {
    /// The new content, beside the target.
    temp: PathBuf,
    target: &'a Path,
    /// The target's content before (`None`: it does not exist).
    backup: Option<Vec<u8>>,
}

/// What undoes an apply that failed: the temporary files and the directories it created.
#[derive(Default)]
struct Undo {
    temps: Vec<PathBuf>,
    /// In the order they were created, parents first.
    dirs: Vec<PathBuf>,
}

impl Undo {
    /// Puts back every target in `done`: its old content, or no file when it was created.
    /// Returns the targets that could not be put back.
    fn restore(&self, done: &[Staged<'_>]) -> Vec<PathBuf> {
        done.iter()
            .rev()
            .filter(|s| {
                let restored = match &s.backup {
                    Some(old) => write_atomically(s.target, old),
                    None => std::fs::remove_file(s.target),
                };
                restored.is_err()
            })
            .map(|s| s.target.to_path_buf())
            .collect()
    }

    /// Removes the temporary files, then the directories created (when empty).
    fn run(self) {
        for temp in &self.temps {
            let _ = std::fs::remove_file(temp);
        }
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Writes `content` to a temporary file beside `target`, then renames it over `target`, so a
/// crash leaves the old or the new content, never a part.
fn write_atomically(target: &Path, content: &[u8]) -> std::io::Result<()> {
    let name = target
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?
        .to_string_lossy();
    let temp = target.with_file_name(format!(".{name}.cargo-inngest.restore"));
    std::fs::write(&temp, content)?;
    if let Ok(meta) = std::fs::metadata(target) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    std::fs::rename(&temp, target).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Writes `c`'s content to a temporary file beside it (creating its directory, noted in
/// `undo`), and keeps the target's old content.
fn stage<'a>(c: &'a Change, undo: &mut Undo) -> Result<Staged<'a>, ApplyError> {
    let failed = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| ApplyError::Stage { what, path, source }
    };
    let not_a_file = || std::io::Error::other("not a file path");
    let dir = c
        .path
        .parent()
        .ok_or_else(not_a_file)
        .map_err(failed("find the folder of", &c.path))?;
    let name = c
        .path
        .file_name()
        .ok_or_else(not_a_file)
        .map_err(failed("find the file name of", &c.path))?
        .to_string_lossy();
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(dir).map_err(failed("create", dir))?;
    undo.dirs.extend(missing.into_iter().rev());
    let backup = match std::fs::read(&c.path) {
        Ok(old) => Some(old),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(failed("read", &c.path)(e)),
    };
    let temp = dir.join(format!(".{name}.cargo-inngest.tmp"));
    if let Err(e) = std::fs::write(&temp, &c.after) {
        // A partial write may have left it.
        undo.temps.push(temp.clone());
        return Err(failed("write", &temp)(e));
    }
    if let Ok(meta) = std::fs::metadata(&c.path) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    Ok(Staged {
        temp,
        target: &c.path,
        backup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `root`, relative, with its content.
    fn tree(root: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("read_dir").flatten() {
                let p = e.path();
                let rel = p
                    .strip_prefix(root)
                    .expect("below root")
                    .display()
                    .to_string();
                if p.is_dir() {
                    out.push((format!("{rel}/"), String::new()));
                    stack.push(p);
                } else {
                    out.push((rel, std::fs::read_to_string(&p).expect("read")));
                }
            }
        }
        out.sort();
        out
    }

    /// A plan that updates `a.rs`, creates `new/dir/c.rs` and updates `b.rs`, in that order.
    fn three_changes(root: &Path) -> Plan {
        std::fs::write(root.join("a.rs"), "// old a\n").expect("write");
        std::fs::write(root.join("b.rs"), "// old b\n").expect("write");
        let mut plan = Plan::default();
        plan.set(root.join("a.rs"), "// new a\n".into())
            .expect("plan");
        plan.set(root.join("new/dir/c.rs"), "// c\n".into())
            .expect("plan");
        plan.set(root.join("b.rs"), "// new b\n".into())
            .expect("plan");
        plan
    }

    #[test]
    fn a_failed_rename_puts_back_the_renames_before_it() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        let plan = three_changes(root);
        let before = tree(root);
        let mut renames = 0;
        let err = plan
            .apply_with(|from, to| {
                renames += 1;
                if to.ends_with("b.rs") {
                    return Err(std::io::Error::other("disk full"));
                }
                std::fs::rename(from, to)
            })
            .expect_err("the third rename fails");
        assert_eq!(renames, 3, "a.rs and c.rs were replaced before b.rs failed");
        assert!(
            matches!(&err, ApplyError::Replace { path, .. } if path == &root.join("b.rs")),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "cannot replace {}; the files replaced before it were restored, so nothing was changed",
                root.join("b.rs").display()
            )
        );
        assert_eq!(
            tree(root),
            before,
            "a.rs restored, c.rs and its directories removed, no temporary file left"
        );
    }

    #[test]
    fn a_target_that_cannot_be_read_changes_nothing() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        let plan = three_changes(root);
        // b.rs became a directory after planning: it cannot be backed up, nor replaced.
        std::fs::remove_file(root.join("b.rs")).expect("rm");
        std::fs::create_dir(root.join("b.rs")).expect("mkdir");
        std::fs::write(root.join("b.rs/keep"), "kept\n").expect("write");
        let before = tree(root);
        let err = plan.apply().expect_err("b.rs is a directory");
        assert!(
            matches!(&err, ApplyError::Stage { what: "read", path, .. } if path == &root.join("b.rs")),
            "{err:?}"
        );
        assert_eq!(tree(root), before);
    }

    #[test]
    fn every_change_is_applied_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        three_changes(root).apply().expect("applied");
        assert_eq!(
            tree(root),
            vec![
                ("a.rs".into(), "// new a\n".into()),
                ("b.rs".into(), "// new b\n".into()),
                ("new/".into(), String::new()),
                ("new/dir/".into(), String::new()),
                ("new/dir/c.rs".into(), "// c\n".into()),
            ]
        );
    }
}
