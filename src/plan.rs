//! A set of file changes made all together or not at all.
//!
//! Commands first compute every change, then either print them as a diff (`--dry-run`) or
//! apply them: each new content goes to a temporary file beside its target, and only when every
//! temporary file is written are they renamed over the targets. A failure before the renames
//! removes the temporary files (and the directories made for them). A failed rename undoes the
//! renames before it: the old content of each replaced file, kept until every rename is done,
//! is written back, and each created file is removed. Either way every file is as it was.
//!
//! A temporary file is created exclusively under a random name (so a link or file left at a
//! predictable name cannot redirect the write) and synced before its rename; the directories
//! are synced after. A target that is a symbolic link keeps being one: the file it names gets
//! the new content.

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
        let mut staged: Vec<Staged> = Vec::new();
        for c in &self.changes {
            match stage(c, &mut undo) {
                Ok(s) => staged.push(s),
                Err(e) => {
                    // Dropping the staged changes removes their temporary files.
                    drop(staged);
                    undo.run();
                    return Err(e);
                }
            }
        }
        for i in 0..staged.len() {
            let s = &staged[i];
            if let Err(source) = rename(s.temp.as_ref(), &s.target) {
                let unrestored = undo.restore(&staged[..i]);
                let path = s.target.clone();
                drop(staged);
                undo.run();
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
        let mut dirs: Vec<PathBuf> = Vec::new();
        for s in staged {
            // Renamed: nothing is left at the temporary path to remove.
            let _ = s.temp.keep();
            if let Some(dir) = s.target.parent() {
                if !dirs.iter().any(|d| d == dir) {
                    dirs.push(dir.to_path_buf());
                }
            }
        }
        for dir in &dirs {
            sync_dir(dir);
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
struct Staged {
    /// The new content, written and synced beside the target; removed when dropped unless kept.
    temp: tempfile::TempPath,
    /// The file written: the change's path, or the file it links to.
    target: PathBuf,
    /// The target's content before (`None`: it does not exist).
    backup: Option<Vec<u8>>,
}

/// What undoes an apply that failed: the directories it created (the temporary files remove
/// themselves when dropped).
#[derive(Default)]
struct Undo {
    /// In the order they were created, parents first.
    dirs: Vec<PathBuf>,
}

impl Undo {
    /// Puts back every target in `done`: its old content, or no file when it was created.
    /// Returns the targets that could not be put back.
    fn restore(&self, done: &[Staged]) -> Vec<PathBuf> {
        done.iter()
            .rev()
            .filter(|s| {
                let restored = match &s.backup {
                    Some(old) => write_atomically(&s.target, old),
                    None => std::fs::remove_file(&s.target),
                };
                restored.is_err()
            })
            .map(|s| s.target.clone())
            .collect()
    }

    /// Removes the directories created (when empty), deepest first.
    fn run(self) {
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The file a change writes: `path` itself, or, when `path` is a symbolic link, the file it
/// names, so the link stays a link and what it points at gets the new content (as an editor
/// saves it).
fn resolve(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// Writes `content` to a new temporary file in `dir` and syncs it to disk. The file is
/// created exclusively under a random name (never opened through a link or a file someone
/// left there), with the permissions of `like` when given.
fn write_temp(
    dir: &Path,
    name: &str,
    content: &[u8],
    like: Option<&std::fs::Metadata>,
) -> std::io::Result<tempfile::TempPath> {
    use std::io::Write as _;
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".cargo-inngest.tmp")
        .tempfile_in(dir)?;
    file.write_all(content)?;
    if let Some(meta) = like {
        file.as_file().set_permissions(meta.permissions())?;
    }
    file.as_file().sync_all()?;
    Ok(file.into_temp_path())
}

/// Syncs a directory, so that a rename in it survives a crash (best effort: some file systems
/// cannot sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `content` to a temporary file beside `target`, then renames it over `target`, so a
/// crash leaves the old or the new content, never a part.
fn write_atomically(target: &Path, content: &[u8]) -> std::io::Result<()> {
    let not_a_file = || std::io::Error::other("not a file path");
    let dir = target.parent().ok_or_else(not_a_file)?;
    let name = target.file_name().ok_or_else(not_a_file)?.to_string_lossy();
    let like = std::fs::metadata(target).ok();
    let temp = write_temp(dir, &name, content, like.as_ref())?;
    temp.persist(target).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Writes `c`'s content to a temporary file beside the file it changes (creating its
/// directory, noted in `undo`), and keeps that file's old content.
fn stage(c: &Change, undo: &mut Undo) -> Result<Staged, ApplyError> {
    let failed = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| ApplyError::Stage { what, path, source }
    };
    let not_a_file = || std::io::Error::other("not a file path");
    let target = resolve(&c.path);
    let dir = target
        .parent()
        .ok_or_else(not_a_file)
        .map_err(failed("find the folder of", &c.path))?;
    let name = target
        .file_name()
        .ok_or_else(not_a_file)
        .map_err(failed("find the file name of", &c.path))?
        .to_string_lossy()
        .into_owned();
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(dir).map_err(failed("create", dir))?;
    undo.dirs.extend(missing.into_iter().rev());
    let backup = match std::fs::read(&target) {
        Ok(old) => Some(old),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(failed("read", &c.path)(e)),
    };
    let like = std::fs::metadata(&target).ok();
    let temp = write_temp(dir, &name, c.after.as_bytes(), like.as_ref())
        .map_err(failed("write a temporary file beside", &target))?;
    Ok(Staged {
        temp,
        target,
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

    /// A link left at the old, predictable temporary name (`.a.rs.cargo-inngest.tmp`) by a
    /// cloned repository: the write goes to a new file of a random name, never through it.
    #[test]
    fn a_link_at_a_temporary_name_is_never_written_through() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        let outside = tempfile::tempdir().expect("another temp dir");
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "precious\n").expect("write");
        let plan = three_changes(root);
        for name in ["a.rs", "b.rs", "c.rs"] {
            let lure = root.join(format!(".{name}.cargo-inngest.tmp"));
            std::os::unix::fs::symlink(&victim, lure).expect("symlink");
        }
        plan.apply().expect("applied");
        assert_eq!(
            std::fs::read_to_string(&victim).expect("read"),
            "precious\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a.rs")).expect("read"),
            "// new a\n"
        );
        assert!(
            !std::fs::symlink_metadata(root.join("a.rs"))
                .expect("a.rs")
                .file_type()
                .is_symlink()
        );
    }

    /// A target that is a symbolic link stays one, and the file it names gets the change.
    #[test]
    fn a_linked_target_keeps_its_link() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        std::fs::create_dir(root.join("real")).expect("mkdir");
        std::fs::write(root.join("real/Cargo.toml"), "# old\n").expect("write");
        std::os::unix::fs::symlink("real/Cargo.toml", root.join("Cargo.toml")).expect("symlink");
        let mut plan = Plan::default();
        plan.set(root.join("Cargo.toml"), "# new\n".into())
            .expect("plan");
        plan.apply().expect("applied");
        assert!(
            std::fs::symlink_metadata(root.join("Cargo.toml"))
                .expect("the link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(root.join("real/Cargo.toml")).expect("read"),
            "# new\n"
        );
        let left: Vec<_> = std::fs::read_dir(root.join("real"))
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["Cargo.toml"], "no temporary file left");
    }
}
