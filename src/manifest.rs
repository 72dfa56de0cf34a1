//! Format-preserving dependency edits to a Cargo.toml, as `cargo add` makes them: comments,
//! order and formatting stay; a dependency the workspace root declares in
//! `[workspace.dependencies]` is inherited (`dep.workspace = true`), and when the package is
//! itself the root, that table is in its own manifest; a sorted table stays sorted, an unsorted
//! one gets the new entry at its end; a dependency already present is left alone, except that
//! a source named on the command line replaces its source keys (its other keys stay).

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike, Value};

/// Where a dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A registry version requirement (`"0.1"`).
    Registry(String),
    /// A path, relative to the manifest's folder.
    Path(String),
    /// A git repository, at a branch's head unless a revision or tag is given.
    Git {
        /// The repository URL.
        url: String,
        /// A revision or tag.
        reference: Option<GitRef>,
    },
}

/// A git revision or tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitRef {
    /// `rev = "…"`.
    Rev(String),
    /// `tag = "…"`.
    Tag(String),
}

/// The keys of a dependency entry that say where it comes from.
const SOURCE_KEYS: [&str; 7] = [
    "version",
    "path",
    "git",
    "rev",
    "tag",
    "branch",
    "workspace",
];

impl Source {
    /// The keys and values of this source, in the order `cargo add` writes them.
    fn entries(&self) -> Vec<(&'static str, &str)> {
        match self {
            Self::Registry(v) => vec![("version", v.as_str())],
            Self::Path(p) => vec![("path", p.as_str())],
            Self::Git { url, reference } => {
                let mut out = vec![("git", url.as_str())];
                match reference {
                    Some(GitRef::Rev(r)) => out.push(("rev", r.as_str())),
                    Some(GitRef::Tag(t)) => out.push(("tag", t.as_str())),
                    None => {}
                }
                out
            }
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Registry(v) => write!(f, "version {v:?} from crates.io"),
            Self::Path(p) => write!(f, "path {p}"),
            Self::Git { url, reference } => {
                write!(f, "git {url}")?;
                match reference {
                    Some(GitRef::Rev(r)) => write!(f, " (rev {r})"),
                    Some(GitRef::Tag(t)) => write!(f, " (tag {t})"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// A dependency the generated code needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Crate name.
    pub name: &'static str,
    /// Where it comes from, when not inherited from the workspace.
    pub source: Source,
    /// Features the generated code uses.
    pub features: Vec<&'static str>,
    /// Features to ask for when inheriting from the workspace, whose declaration may have
    /// turned default features off.
    pub inherited_features: Vec<&'static str>,
    /// Whether an entry already present gets this source instead of its own (the user named
    /// the source on the command line). Its other keys (features, `optional`…) are kept.
    pub replace_source: bool,
}

impl Dependency {
    /// A registry dependency.
    pub fn new(name: &'static str, version: &str, features: &[&'static str]) -> Self {
        Self {
            name,
            source: Source::Registry(version.to_string()),
            features: features.to_vec(),
            inherited_features: Vec::new(),
            replace_source: false,
        }
    }
}

/// What happened to each dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Added as written.
    New(&'static str),
    /// Added as `workspace = true`.
    Inherited(&'static str),
    /// Already there; left as it was. Holds the entry as written.
    Present(&'static str, String),
    /// Already there from another source, which was replaced. Holds the old entry.
    Replaced(&'static str, String),
    /// Already there without features the generated code needs, which were added (as
    /// `cargo add` merges them). Holds the features added.
    Featured(&'static str, Vec<&'static str>),
}

/// The key of `name`'s entry in a dependency table: `name` itself, or a key that renames it
/// (`rt = { package = "name" }`), so a renamed dependency is not added a second time.
fn entry_key(table: &dyn TableLike, name: &str) -> Option<String> {
    if table.get(name).is_some_and(|e| !e.is_none()) {
        return Some(name.to_string());
    }
    table
        .iter()
        .find(|(_, e)| e.get("package").and_then(Item::as_str) == Some(name))
        .map(|(k, _)| k.to_string())
}

/// Enables `features` on an existing entry, keeping what it has: `"1"` becomes
/// `{ version = "1", features = [...] }`, a table gets its `features` array extended. Returns
/// the features that were missing.
///
/// An entry that inherits from the workspace (`workspace = true`) has the features the
/// workspace gives it too (`inherited`).
fn add_features(
    entry: &mut Item,
    features: &[&'static str],
    inherited: &[String],
) -> Vec<&'static str> {
    let mut present = listed_features(entry);
    if entry.get("workspace").and_then(Item::as_bool) == Some(true) {
        present.extend_from_slice(inherited);
    }
    let missing: Vec<&'static str> = features
        .iter()
        .copied()
        .filter(|f| !present.iter().any(|p| p == f))
        .collect();
    if missing.is_empty() {
        return missing;
    }
    if let Some(Value::String(version)) = entry.as_value() {
        let decor = version.decor().clone();
        let mut t = InlineTable::new();
        t.insert("version", version.value().as_str().into());
        *entry = Item::Value(Value::InlineTable(t));
        if let Some(value) = entry.as_value_mut() {
            *value.decor_mut() = decor;
        }
    }
    let Some(t) = entry.as_table_like_mut() else {
        return Vec::new();
    };
    match t.get_mut("features").and_then(Item::as_array_mut) {
        Some(array) => {
            for f in &missing {
                array.push(*f);
            }
        }
        None => {
            t.insert(
                "features",
                Item::Value(Value::Array(features_array(&missing))),
            );
        }
    }
    missing
}

fn is_sorted(table: &Table) -> bool {
    let keys: Vec<&str> = table.iter().map(|(k, _)| k).collect();
    keys.windows(2).all(|w| w[0] <= w[1])
}

fn features_array(features: &[&str]) -> Array {
    features.iter().copied().collect()
}

/// The features an entry lists (`features = [...]`), its strings only.
fn listed_features(entry: &Item) -> Vec<String> {
    entry
        .get("features")
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The features `name`'s entry in the manifest's `[workspace.dependencies]` lists; `None` when
/// the workspace does not declare it.
fn workspace_features(workspace: Option<&DocumentMut>, name: &str) -> Option<Vec<String>> {
    let entry = workspace?
        .get("workspace")?
        .get("dependencies")?
        .get(name)?;
    Some(listed_features(entry))
}

/// Adds `deps` to `[dependencies]` of `doc`. `workspace` is the workspace root's manifest
/// when that is another file. `None` means `doc` is the root (the package is the workspace
/// root, or in no workspace): then `doc`'s own `[workspace.dependencies]`, if any, is what is
/// inherited.
pub fn add_dependencies(
    doc: &mut DocumentMut,
    workspace: Option<&DocumentMut>,
    deps: &[Dependency],
) -> Vec<Added> {
    add_to_table(doc, workspace, "dependencies", deps)
}

/// [`add_dependencies`] for `[dev-dependencies]`: what only the package's tests use.
pub fn add_dev_dependencies(
    doc: &mut DocumentMut,
    workspace: Option<&DocumentMut>,
    deps: &[Dependency],
) -> Vec<Added> {
    add_to_table(doc, workspace, "dev-dependencies", deps)
}

fn add_to_table(
    doc: &mut DocumentMut,
    workspace: Option<&DocumentMut>,
    table: &str,
    deps: &[Dependency],
) -> Vec<Added> {
    // The workspace's entries, read before the table is borrowed to edit: `doc`'s own when it
    // is the root.
    let root = workspace.or(Some(&*doc));
    let from_workspace: Vec<Option<Vec<String>>> = deps
        .iter()
        .map(|d| workspace_features(root, d.name))
        .collect();
    let item = doc
        .as_table_mut()
        .entry(table)
        .or_insert_with(|| Item::Table(Table::new()));
    if !item.is_table_like() {
        *item = Item::Table(Table::new());
    }
    let mut out = Vec::new();
    for (dep, from_workspace) in deps.iter().zip(from_workspace) {
        // A source named on the command line is used as named, as `cargo add --path` does.
        let inherit = !dep.replace_source && from_workspace.is_some();
        let key = item.as_table_like().and_then(|t| entry_key(t, dep.name));
        let existing = key
            .as_deref()
            .and_then(|k| item.as_table_like_mut().and_then(|t| t.get_mut(k)));
        if let Some(existing) = existing {
            let written = existing.to_string().trim().to_string();
            let replaced = dep.replace_source && !has_source(existing, &dep.source);
            if replaced {
                set_source(existing, &dep.source);
                out.push(Added::Replaced(dep.name, written.clone()));
            }
            let inherited = from_workspace.as_deref().unwrap_or_default();
            let featured = add_features(existing, &dep.features, inherited);
            if !featured.is_empty() {
                out.push(Added::Featured(dep.name, featured));
            } else if !replaced {
                out.push(Added::Present(dep.name, written));
            }
            continue;
        }
        let value: Value = if inherit {
            let mut t = InlineTable::new();
            t.insert("workspace", true.into());
            let mut features = dep.features.clone();
            features.extend(
                dep.inherited_features
                    .iter()
                    .copied()
                    .filter(|f| !dep.features.contains(f)),
            );
            if !features.is_empty() {
                t.insert("features", Value::Array(features_array(&features)));
            }
            Value::InlineTable(t)
        } else {
            match (&dep.source, dep.features.is_empty()) {
                (Source::Registry(v), true) => v.as_str().into(),
                (source, _) => {
                    let mut t = InlineTable::new();
                    for (k, v) in source.entries() {
                        t.insert(k, v.into());
                    }
                    if !dep.features.is_empty() {
                        t.insert("features", Value::Array(features_array(&dep.features)));
                    }
                    Value::InlineTable(t)
                }
            }
        };
        out.push(if inherit {
            Added::Inherited(dep.name)
        } else {
            Added::New(dep.name)
        });
        if let Some(t) = item.as_table_mut() {
            let sorted = is_sorted(t);
            t.insert(dep.name, Item::Value(value));
            if sorted {
                t.sort_values();
            }
        } else if let Some(t) = item.as_table_like_mut() {
            t.insert(dep.name, Item::Value(value));
        }
    }
    out
}

/// Whether an entry already comes from `source` (same keys, same values).
fn has_source(entry: &Item, source: &Source) -> bool {
    match (entry.as_str(), source) {
        (Some(v), Source::Registry(want)) => v == want,
        (Some(_), _) => false,
        (None, _) => {
            let Some(t) = entry.as_table_like() else {
                return false;
            };
            let wanted = source.entries();
            let present: Vec<&str> = SOURCE_KEYS
                .iter()
                .copied()
                .filter(|k| t.contains_key(k))
                .collect();
            present.len() == wanted.len()
                && wanted
                    .iter()
                    .all(|(k, v)| t.get(k).and_then(Item::as_str) == Some(*v))
        }
    }
}

/// Gives an entry `source`, keeping its other keys (features, `optional`, comments).
fn set_source(entry: &mut Item, source: &Source) {
    if let Some(Value::String(old)) = entry.as_value() {
        let decor = old.decor().clone();
        let mut value: Value = match source {
            Source::Registry(v) => v.as_str().into(),
            other => {
                let mut t = InlineTable::new();
                for (k, v) in other.entries() {
                    t.insert(k, v.into());
                }
                Value::InlineTable(t)
            }
        };
        *value.decor_mut() = decor;
        *entry = Item::Value(value);
        return;
    }
    if let Some(t) = entry.as_table_like_mut() {
        for k in SOURCE_KEYS {
            t.remove(k);
        }
        let mut rest: Vec<(String, Item)> = Vec::new();
        let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
        for k in keys {
            if let Some(v) = t.remove(&k) {
                rest.push((k, v));
            }
        }
        for (k, v) in source.entries() {
            t.insert(k, Item::Value(v.into()));
        }
        for (k, v) in rest {
            t.insert(&k, v);
        }
    }
    // `{ version = "0.1" }` alone reads better as `"0.1"`, as `cargo add` writes it.
    if let Some(Value::InlineTable(t)) = entry.as_value() {
        if let (1, Some(v)) = (t.len(), t.get("version").and_then(Value::as_str)) {
            let mut value: Value = v.into();
            *value.decor_mut() = t.decor().clone();
            *entry = Item::Value(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod generated {
        //! `add_dependencies` on generated manifests: whatever shape the dependency entries
        //! and tables have (renamed, malformed), the edit does not panic, keeps the document
        //! valid TOML, adds every dependency (or finds it renamed), and a second run changes
        //! nothing.

        use super::super::*;
        use proptest::prelude::*;

        fn entry() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("\"1\"".to_string()),
                Just("{ version = \"0.7\", features = [\"x\"] }".to_string()),
                Just("{ workspace = true }".to_string()),
                Just("{ path = \"../x\" }".to_string()),
                Just("42".to_string()),
                Just("[1, 2]".to_string()),
                Just("true".to_string()),
                Just("{}".to_string()),
                // A rename, and malformed values where the edit reads: features that are not
                // a list of strings, a package that is not a string.
                Just("{ package = \"inngest-runtime\", path = \"../rt\" }".to_string()),
                Just("{ version = \"1\", features = \"derive\" }".to_string()),
                Just("{ version = \"1\", features = [1, true, \"x\"] }".to_string()),
                Just("{ package = 7 }".to_string()),
            ]
        }

        fn manifest() -> impl Strategy<Value = String> {
            let name = prop_oneof![
                Just("serde"),
                Just("tokio"),
                Just("inngest-runtime"),
                Just("axum"),
                Just("zip")
            ];
            (
                prop::collection::vec((name.clone(), entry()), 0..5),
                prop::collection::vec((name, entry()), 0..3),
                any::<bool>(),
                any::<bool>(),
                prop_oneof![Just(""), Just("# a comment\n"), Just("\n\n")],
            )
                .prop_map(|(deps, ws, with_package, dotted, comment)| {
                    let mut m = String::new();
                    if with_package {
                        m.push_str("[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n");
                    }
                    m.push_str(comment);
                    if dotted {
                        for (n, e) in &deps {
                            m.push_str(&format!("dependencies.{n} = {e}\n"));
                        }
                    } else if !deps.is_empty() {
                        m.push_str("[dependencies]\n");
                        for (n, e) in &deps {
                            m.push_str(&format!("{n} = {e}\n"));
                        }
                    }
                    if !ws.is_empty() {
                        m.push_str("\n[workspace.dependencies]\n");
                        for (n, e) in &ws {
                            m.push_str(&format!("{n} = {e}\n"));
                        }
                    }
                    m
                })
        }

        static TRIED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

        #[test]
        fn edits_of_generated_manifests_are_valid_complete_and_idempotent() {
            let config = ProptestConfig {
                cases: 500,
                failure_persistence: None,
                ..ProptestConfig::default()
            };
            proptest!(config, |(text in manifest())| {
                TRIED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Duplicate keys make a manifest invalid: cargo refuses it, and so do we.
                let Ok(mut doc) = text.parse::<DocumentMut>() else { return Ok(()); };
                let deps = [
                    Dependency::new("inngest-runtime", "0.1", &[]),
                    Dependency::new("serde", "1", &["derive"]),
                    Dependency::new("tokio", "1", &["full"]),
                ];
                add_dependencies(&mut doc, None, &deps);
                let once = doc.to_string();
                let reparsed: DocumentMut = once.parse().map_err(|e| {
                    TestCaseError::fail(format!("invalid TOML after the edit: {e}\n{once}"))
                })?;
                let table = reparsed.get("dependencies").and_then(Item::as_table_like);
                for d in &deps {
                    // Under its name, or under a key that renames it.
                    prop_assert!(
                        table.and_then(|t| entry_key(t, d.name)).is_some(),
                        "{} missing from\n{once}", d.name
                    );
                }
                add_dependencies(&mut doc, None, &deps);
                prop_assert_eq!(doc.to_string(), once);
            });
            println!(
                "manifests: {} inputs tried",
                TRIED.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
    }

    fn add(manifest: &str, workspace: Option<&str>, deps: &[Dependency]) -> String {
        let mut doc: DocumentMut = manifest.parse().expect("toml");
        let ws: Option<DocumentMut> = workspace.map(|w| w.parse().expect("toml"));
        add_dependencies(&mut doc, ws.as_ref(), deps);
        doc.to_string()
    }

    #[test]
    fn a_sorted_table_stays_sorted_and_comments_stay() {
        let out = add(
            "[package]\nname = \"a\"\n\n[dependencies]\n# the web\naxum = \"0.8\"\nzip = \"2\" # archives\n",
            None,
            &[Dependency::new("serde", "1", &["derive"])],
        );
        assert_eq!(
            out,
            "[package]\nname = \"a\"\n\n[dependencies]\n# the web\naxum = \"0.8\"\nserde = { version = \"1\", features = [\"derive\"] }\nzip = \"2\" # archives\n"
        );
    }

    #[test]
    fn an_unsorted_table_gets_new_entries_at_its_end_and_present_ones_are_kept() {
        let out = add(
            "[dependencies]\nzip = \"2\"\naxum = { version = \"0.7\" }\n",
            None,
            &[
                Dependency::new("axum", "0.8", &[]),
                Dependency::new("garde", "0.23", &[]),
            ],
        );
        assert_eq!(
            out,
            "[dependencies]\nzip = \"2\"\naxum = { version = \"0.7\" }\ngarde = \"0.23\"\n"
        );
    }

    /// An existing entry without a feature the generated code needs gets it added (the code
    /// would not compile without it), its version and other keys kept, as `cargo add` does.
    #[test]
    fn missing_features_are_added_to_present_entries() {
        let mut doc: DocumentMut = "[dependencies]\nserde = \"1\" # data\ntokio = { version = \"1\", features = [\"rt\"] }\n\n[dependencies.garde]\nversion = \"0.23\"\n"
            .parse()
            .expect("toml");
        let added = add_dependencies(
            &mut doc,
            None,
            &[
                Dependency::new("serde", "1", &["derive"]),
                Dependency::new("tokio", "1", &["macros", "rt"]),
                Dependency::new("garde", "0.23", &["derive"]),
            ],
        );
        assert_eq!(
            doc.to_string(),
            "[dependencies]\nserde = { version = \"1\", features = [\"derive\"] } # data\ntokio = { version = \"1\", features = [\"rt\", \"macros\"] }\n\n[dependencies.garde]\nversion = \"0.23\"\nfeatures = [\"derive\"]\n"
        );
        assert_eq!(
            added,
            [
                Added::Featured("serde", vec!["derive"]),
                Added::Featured("tokio", vec!["macros"]),
                Added::Featured("garde", vec!["derive"]),
            ]
        );
        let once = doc.to_string();
        add_dependencies(
            &mut doc,
            None,
            &[Dependency::new("serde", "1", &["derive"])],
        );
        assert_eq!(doc.to_string(), once, "a second run changes nothing");
    }

    /// An entry inheriting from the workspace has the workspace's features: nothing is added
    /// when the workspace gives the one needed.
    #[test]
    fn an_inherited_entry_counts_the_workspaces_features() {
        let member = "[dependencies]\nserde.workspace = true\n";
        let with =
            "[workspace.dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n";
        let serde = [Dependency::new("serde", "1", &["derive"])];
        assert_eq!(add(member, Some(with), &serde), member);
        let without = "[workspace.dependencies]\nserde = \"1\"\n";
        assert_eq!(
            add(member, Some(without), &serde),
            "[dependencies]\nserde.workspace = true\nserde.features = [\"derive\"]\n"
        );
    }

    /// A dependency the user renamed (`rt = { package = "inngest-runtime" }`) is found under
    /// its new name: adding it again would make cargo refuse the manifest.
    #[test]
    fn a_renamed_dependency_is_not_added_twice() {
        let text = "[dependencies]\nrt = { package = \"inngest-runtime\", path = \"../rt\" }\n";
        let out = add(
            text,
            None,
            &[Dependency::new("inngest-runtime", "0.1", &[])],
        );
        assert_eq!(out, text);
    }

    #[test]
    fn workspace_dependencies_are_inherited() {
        let out = add(
            "[package]\nname = \"m\"\n\n[dependencies]\n",
            Some("[workspace]\nmembers = [\"m\"]\n\n[workspace.dependencies]\ntokio = \"1\"\n"),
            &[
                Dependency::new("tokio", "1", &["macros"]),
                Dependency::new("serde", "1", &[]),
            ],
        );
        assert_eq!(
            out,
            "[package]\nname = \"m\"\n\n[dependencies]\nserde = \"1\"\ntokio = { workspace = true, features = [\"macros\"] }\n"
        );
    }

    fn runtime(source: Source) -> Dependency {
        Dependency {
            source,
            replace_source: true,
            ..Dependency::new("inngest-runtime", "0.1", &[])
        }
    }

    #[test]
    fn a_named_source_replaces_the_old_one_and_keeps_the_other_keys() {
        let out = add(
            "[dependencies]\ninngest-runtime = { version = \"0.1\", features = [\"axum\"] } # ours\n",
            None,
            &[runtime(Source::Path("../rt".into()))],
        );
        assert_eq!(
            out,
            "[dependencies]\ninngest-runtime = { path = \"../rt\", features = [\"axum\"] } # ours\n"
        );
        let out = add(
            "[dependencies]\ninngest-runtime = \"0.1\"\n",
            None,
            &[runtime(Source::Git {
                url: "https://example.invalid/r.git".into(),
                reference: Some(GitRef::Tag("v0.1.0".into())),
            })],
        );
        assert_eq!(
            out,
            "[dependencies]\ninngest-runtime = { git = \"https://example.invalid/r.git\", tag = \"v0.1.0\" }\n"
        );
        let out = add(
            "[dependencies.inngest-runtime]\npath = \"../rt\"\noptional = true\n",
            None,
            &[runtime(Source::Registry("0.2".into()))],
        );
        assert_eq!(
            out,
            "[dependencies.inngest-runtime]\nversion = \"0.2\"\noptional = true\n"
        );
        let out = add(
            "[dependencies]\ninngest-runtime = { path = \"../rt\" } # ours\n",
            None,
            &[runtime(Source::Registry("0.2".into()))],
        );
        assert_eq!(out, "[dependencies]\ninngest-runtime = \"0.2\" # ours\n");
    }

    #[test]
    fn a_named_source_is_not_inherited_from_the_workspace() {
        let out = add(
            "[package]\nname = \"m\"\n\n[dependencies]\n",
            Some(
                "[workspace]\nmembers = [\"m\"]\n\n[workspace.dependencies]\ninngest-runtime = \"0.1\"\n",
            ),
            &[runtime(Source::Path("../rt".into()))],
        );
        assert_eq!(
            out,
            "[package]\nname = \"m\"\n\n[dependencies]\ninngest-runtime = { path = \"../rt\" }\n"
        );
    }

    #[test]
    fn the_same_source_or_no_named_source_leaves_the_entry_alone() {
        let text =
            "[dependencies]\ninngest-runtime = { path = \"../rt\", features = [\"axum\"] }\n";
        let mut doc: DocumentMut = text.parse().expect("toml");
        let added = add_dependencies(&mut doc, None, &[runtime(Source::Path("../rt".into()))]);
        assert_eq!(doc.to_string(), text);
        assert!(matches!(added[0], Added::Present("inngest-runtime", _)));
        let not_named = Dependency::new("inngest-runtime", "0.1", &[]);
        assert_eq!(add(text, None, &[not_named]), text);
    }

    #[test]
    fn a_missing_dependencies_table_is_created() {
        let out = add(
            "[package]\nname = \"a\"\n",
            None,
            &[Dependency::new("serde", "1", &[])],
        );
        assert_eq!(
            out,
            "[package]\nname = \"a\"\n\n[dependencies]\nserde = \"1\"\n"
        );
    }
}
