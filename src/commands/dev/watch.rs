//! Watching the project: `src/`, `templates/`, `.inngest/`, `Cargo.toml`, `Cargo.lock` and
//! `build.rs`, debounced, ignoring the target directory, hidden and backup files and whatever
//! `.gitignore` ignores.
//!
//! A file counts as changed only when its content did: cargo and rustc read every source while
//! building, and cargo rewrites `Cargo.lock`, which file systems report as events too.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

/// Why the project cannot be watched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The file watcher did not start.
    #[error("the file watcher did not start")]
    Start(#[source] notify::Error),
    /// A path cannot be watched.
    #[error("cannot watch {}", path.display())]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        source: notify::Error,
    },
}

/// Debounced batches of relevant changed paths.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
    /// Each batch of changes, relative to nothing (absolute paths).
    pub changes: mpsc::Receiver<Vec<PathBuf>>,
}

struct Filter {
    package: PathBuf,
    workspace: PathBuf,
    target: PathBuf,
    ignores: Vec<Gitignore>,
    /// The content hash of every relevant file, as last seen (`None`: absent).
    contents: HashMap<PathBuf, Option<u64>>,
}

fn content_hash(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

impl Filter {
    /// Records every relevant file's content as the starting point.
    fn scan(&mut self) {
        let mut stack = vec![self.package.clone()];
        let extra = [
            self.workspace.join("Cargo.toml"),
            self.workspace.join("Cargo.lock"),
        ];
        let mut files: Vec<PathBuf> = extra.into_iter().filter(|p| p.is_file()).collect();
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    if !p.starts_with(&self.target) {
                        stack.push(p);
                    }
                } else {
                    files.push(p);
                }
            }
        }
        for f in files {
            if self.relevant(&f) {
                let hash = content_hash(&f);
                self.contents.insert(f, hash);
            }
        }
    }

    /// Whether `path` is relevant and its content differs from what was last seen.
    fn changed(&mut self, path: &Path) -> bool {
        if path.is_dir() || !self.relevant(path) {
            return false;
        }
        let now = content_hash(path);
        let before = self.contents.insert(path.to_path_buf(), now);
        before != Some(now) && !(before.is_none() && now.is_none())
    }

    fn relevant(&self, path: &Path) -> bool {
        if path.starts_with(&self.target) {
            return false;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') && name != ".inngest" || name.ends_with('~') {
            return false;
        }
        let in_package = |rel: &str| path.starts_with(self.package.join(rel));
        let wanted = in_package("src")
            || in_package("templates")
            || in_package(".inngest")
            || path == self.package.join("Cargo.toml")
            || path == self.package.join("build.rs")
            || path == self.workspace.join("Cargo.toml")
            || path == self.workspace.join("Cargo.lock")
            || path == self.package.join("Cargo.lock");
        wanted
            && !self.ignores.iter().any(|g| {
                g.matched_path_or_any_parents(path, path.is_dir())
                    .is_ignore()
            })
    }
}

fn gitignore(dir: &Path) -> Option<Gitignore> {
    let file = dir.join(".gitignore");
    if !file.is_file() {
        return None;
    }
    let mut b = GitignoreBuilder::new(dir);
    b.add(file);
    b.build().ok()
}

/// Starts watching.
pub fn watch(
    package: &Path,
    workspace: &Path,
    target: &Path,
    debounce: Duration,
) -> Result<Watcher, WatchError> {
    let filter = Filter {
        package: package.to_path_buf(),
        workspace: workspace.to_path_buf(),
        target: target.to_path_buf(),
        ignores: [gitignore(package), gitignore(workspace)]
            .into_iter()
            .flatten()
            .collect(),
        contents: HashMap::new(),
    };
    let mut filter = filter;
    filter.scan();
    let (tx, rx) = mpsc::channel(64);
    let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| {
        if let Ok(events) = result {
            let mut paths: Vec<PathBuf> = events
                .into_iter()
                .map(|e| e.path)
                .filter(|p| filter.changed(p))
                .collect();
            paths.sort();
            paths.dedup();
            if !paths.is_empty() {
                let _ = tx.blocking_send(paths);
            }
        }
    })
    .map_err(WatchError::Start)?;
    let w = debouncer.watcher();
    w.watch(package, RecursiveMode::Recursive)
        .map_err(|source| WatchError::Path {
            path: package.to_path_buf(),
            source,
        })?;
    if package != workspace {
        // A workspace member: the root's manifest and lock file sit outside the package.
        for f in ["Cargo.toml", "Cargo.lock"] {
            let p = workspace.join(f);
            if p.exists() {
                w.watch(&p, RecursiveMode::NonRecursive)
                    .map_err(|source| WatchError::Path { path: p, source })?;
            }
        }
    }
    Ok(Watcher {
        _debouncer: debouncer,
        changes: rx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_project_sources_that_really_changed_count() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        for (f, text) in [
            (".gitignore", "src/generated/\n"),
            ("Cargo.toml", "[package]\n"),
            ("src/main.rs", "fn main() {}\n"),
            ("src/generated/schema.rs", "// made by a tool\n"),
            ("target/debug/build.log", "\n"),
            ("README.md", "hi\n"),
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        let mut filter = Filter {
            package: root.to_path_buf(),
            workspace: root.to_path_buf(),
            target: root.join("target"),
            ignores: gitignore(root).into_iter().collect(),
            contents: HashMap::new(),
        };
        filter.scan();
        let main = root.join("src/main.rs");
        assert!(!filter.changed(&main), "read but not changed");
        std::fs::write(&main, "fn main() { println!(); }\n").expect("write");
        assert!(filter.changed(&main));
        assert!(!filter.changed(&main), "the same content twice");
        for ignored in [
            "src/generated/schema.rs",
            "target/debug/build.log",
            "README.md",
            ".gitignore",
        ] {
            let p = root.join(ignored);
            std::fs::write(&p, "changed\n").expect("write");
            assert!(!filter.changed(&p), "{ignored} should not count");
        }
        let new = root.join("src/new.rs");
        std::fs::write(&new, "// new\n").expect("write");
        assert!(filter.changed(&new), "a new file counts");
        std::fs::remove_file(&new).expect("rm");
        assert!(filter.changed(&new), "a deleted file counts");
        let swap = root.join("src/.main.rs.swp");
        std::fs::write(&swap, "x").expect("write");
        assert!(!filter.changed(&swap), "editor swap files do not count");
    }
}
