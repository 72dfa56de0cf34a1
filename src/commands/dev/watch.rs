//! Watching the project: `src/`, `templates/`, `.inngest/`, `Cargo.toml`, `Cargo.lock` and
//! `build.rs`, debounced, ignoring the target directory, hidden and backup files, the dev
//! server's state file and SQLite's files beside any database (`-wal`, `-shm`, `-journal`),
//! and whatever `.gitignore` ignores. Only those folders are walked and watched, not the
//! whole package (its `target/`, `node_modules/` or `.git/`).
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
    /// What the file watcher reported as going wrong (a folder gone, the system's limit of
    /// watches reached): changes may then be missed, which the user should know.
    pub errors: mpsc::Receiver<String>,
}

struct Filter {
    /// The folders whose files count (walked and watched recursively): the package's `src/`,
    /// `templates/` and `.inngest/`.
    folders: [PathBuf; 3],
    /// The single files that count: the manifests, lock files and `build.rs`.
    files: Vec<PathBuf>,
    target: PathBuf,
    ignores: Vec<Gitignore>,
    /// The dev server's state file, when it has one (absolute): the server writes it all the
    /// time, and a rebuild for each write would restart the app, which syncs, which writes.
    state: Option<PathBuf>,
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
    /// The filter of `package` (in `workspace`, building into `target`); `state` is the dev
    /// server's state file, if any.
    fn new(package: &Path, workspace: &Path, target: &Path, state: Option<&Path>) -> Self {
        let mut ignores: Vec<Gitignore> = gitignore(package).into_iter().collect();
        if workspace != package {
            ignores.extend(gitignore(workspace));
        }
        Filter {
            folders: ["src", "templates", ".inngest"].map(|d| package.join(d)),
            files: vec![
                package.join("Cargo.toml"),
                package.join("build.rs"),
                package.join("Cargo.lock"),
                workspace.join("Cargo.toml"),
                workspace.join("Cargo.lock"),
            ],
            target: target.to_path_buf(),
            ignores,
            state: state.and_then(|s| std::path::absolute(s).ok()),
            contents: HashMap::new(),
        }
    }

    /// Records every relevant file's content as the starting point.
    fn scan(&mut self) {
        let mut stack: Vec<PathBuf> = self
            .folders
            .iter()
            .filter(|d| d.is_dir())
            .cloned()
            .collect();
        let mut files: Vec<PathBuf> = self.files.iter().filter(|p| p.is_file()).cloned().collect();
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
        if ["-wal", "-shm", "-journal"]
            .iter()
            .any(|sidecar| name.ends_with(sidecar))
        {
            return false;
        }
        if self.state.as_deref().is_some_and(|state| path == state) {
            return false;
        }
        let wanted = self.folders.iter().any(|d| path.starts_with(d))
            || self.files.iter().any(|f| path == f);
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

/// Starts watching. `state` is the dev server's state file, if any (relative to the current
/// directory or absolute).
pub fn watch(
    package: &Path,
    workspace: &Path,
    target: &Path,
    state: Option<&Path>,
    debounce: Duration,
) -> Result<Watcher, WatchError> {
    let mut filter = Filter::new(package, workspace, target, state);
    filter.scan();
    let folders = filter.folders.clone();
    let (tx, rx) = mpsc::channel(64);
    // A few errors are enough to say; more while they are unread are dropped.
    let (error_tx, error_rx) = mpsc::channel(8);
    let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| {
        let events = match result {
            Ok(events) => events,
            Err(error) => {
                let _ = error_tx.try_send(error.to_string());
                return;
            }
        };
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
    })
    .map_err(WatchError::Start)?;
    let w = debouncer.watcher();
    // The package's own folder for its files (Cargo.toml, build.rs, …), then each folder that
    // counts, whole.
    w.watch(package, RecursiveMode::NonRecursive)
        .map_err(|source| WatchError::Path {
            path: package.to_path_buf(),
            source,
        })?;
    for folder in folders.iter().filter(|d| d.is_dir()) {
        w.watch(folder, RecursiveMode::Recursive)
            .map_err(|source| WatchError::Path {
                path: folder.clone(),
                source,
            })?;
    }
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
        errors: error_rx,
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
            (".inngest/dev.sqlite", "state\n"),
            (".inngest/dev.sqlite-wal", "wal\n"),
            (".inngest/templates/workflow.rs.tera", "// a template\n"),
            ("node_modules/dep/index.js", "\n"),
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        let mut filter = Filter::new(
            root,
            root,
            &root.join("target"),
            Some(&root.join(".inngest/dev.sqlite")),
        );
        filter.scan();
        let mut scanned: Vec<String> = filter
            .contents
            .keys()
            .map(|p| {
                p.strip_prefix(root)
                    .expect("below root")
                    .display()
                    .to_string()
            })
            .collect();
        scanned.sort();
        assert_eq!(
            scanned,
            [
                ".inngest/templates/workflow.rs.tera",
                "Cargo.toml",
                "src/main.rs"
            ],
            "only the folders and files that count are read"
        );
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
            ".inngest/dev.sqlite",
            ".inngest/dev.sqlite-wal",
            ".inngest/dev.sqlite-shm",
            "node_modules/dep/index.js",
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
