//! Finding the project: the manifest (`--manifest-path` or the nearest `Cargo.toml` up from the
//! current directory), the package (`-p` or the manifest's own), its source files, and the
//! workspace root whose `[workspace.dependencies]` new dependencies may inherit from.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use toml_edit::DocumentMut;

/// Where to look: cargo-style flags shared by every command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Selection {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// The package to work on, in a workspace.
    #[arg(short, long, value_name = "SPEC")]
    pub package: Option<String>,
}

/// A package to scaffold into.
#[derive(Debug, Clone)]
pub struct Project {
    /// The package name.
    pub name: String,
    /// Its Cargo.toml.
    pub manifest: PathBuf,
    /// Its directory.
    pub dir: PathBuf,
    /// The workspace root's Cargo.toml, when it is another file.
    pub workspace_manifest: Option<PathBuf>,
    /// The workspace root directory.
    pub workspace_root: PathBuf,
    /// Where cargo builds.
    pub target_dir: PathBuf,
    /// The package's binary targets.
    pub bins: Vec<String>,
    /// `default-run`, if set.
    pub default_run: Option<String>,
}

impl Project {
    /// `src/<rel>` and friends, relative to the package directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Whether `src/lib.rs` exists.
    pub fn has_lib(&self) -> bool {
        self.path("src/lib.rs").is_file()
    }

    /// Whether `src/main.rs` exists.
    pub fn has_main(&self) -> bool {
        self.path("src/main.rs").is_file()
    }

    /// The Inngest app id: the package name in kebab case.
    pub fn app_id(&self) -> String {
        heck::ToKebabCase::to_kebab_case(self.name.as_str())
    }
}

/// Reads and parses a manifest, naming the file in every error.
pub fn read_manifest(path: &Path) -> anyhow::Result<(String, DocumentMut)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc = text
        .parse::<DocumentMut>()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    Ok((text, doc))
}

fn find_manifest(selection: &Selection) -> anyhow::Result<PathBuf> {
    if let Some(p) = &selection.manifest_path {
        if !p.is_file() {
            bail!("{} does not exist", p.display());
        }
        // Canonical, as cargo names the manifests it reports: `../app/Cargo.toml` kept its
        // `..` and matched no package.
        return std::fs::canonicalize(p).with_context(|| format!("resolving {}", p.display()));
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    for dir in cwd.ancestors() {
        let candidate = dir.join("Cargo.toml");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no Cargo.toml in {} or any parent directory: run this inside a Cargo project, or pass --manifest-path",
        cwd.display()
    )
}

/// Locates the package the command works on.
pub fn locate(selection: &Selection) -> anyhow::Result<Project> {
    let manifest = find_manifest(selection)?;
    // A clear TOML error, naming the file, before cargo's own.
    read_manifest(&manifest)?;
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(&manifest)
        .no_deps()
        .other_options(vec!["--offline".to_string()])
        .exec()
        .with_context(|| format!("cargo could not read the project at {}", manifest.display()))?;
    let package = match &selection.package {
        Some(name) => metadata
            .workspace_packages()
            .into_iter()
            .find(|p| p.name.as_str() == name)
            .with_context(|| {
                let names: Vec<&str> = metadata
                    .workspace_packages()
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                format!(
                    "no package {name:?} in the workspace of {} (packages: {})",
                    manifest.display(),
                    names.join(", ")
                )
            })?,
        None => match metadata
            .workspace_packages()
            .into_iter()
            .find(|p| p.manifest_path.as_std_path() == manifest)
        {
            Some(p) => p,
            None => bail!(
                "{} is a virtual workspace manifest: pick a package with -p",
                manifest.display()
            ),
        },
    };
    let manifest = package.manifest_path.clone().into_std_path_buf();
    let dir = manifest
        .parent()
        .map(Path::to_path_buf)
        .context("a manifest has a directory")?;
    let root_manifest = metadata
        .workspace_root
        .join("Cargo.toml")
        .into_std_path_buf();
    let bins = package
        .targets
        .iter()
        .filter(|t| t.kind.iter().any(|k| k.to_string() == "bin"))
        .map(|t| t.name.clone())
        .collect();
    Ok(Project {
        workspace_root: metadata.workspace_root.clone().into_std_path_buf(),
        target_dir: metadata.target_directory.clone().into_std_path_buf(),
        bins,
        default_run: package.default_run.clone(),
        name: package.name.to_string(),
        workspace_manifest: (root_manifest != manifest).then_some(root_manifest),
        manifest,
        dir,
    })
}
