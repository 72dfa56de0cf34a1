//! Format-preserving dependency edits to a Cargo.toml, as `cargo add` makes them: comments,
//! order and formatting stay; a dependency the workspace declares is inherited
//! (`dep.workspace = true`); a sorted table stays sorted, an unsorted one gets the new entry at
//! its end; a dependency already present is left alone.

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

/// A dependency the generated code needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Crate name.
    pub name: &'static str,
    /// Version requirement, used when not inherited and not a path.
    pub version: String,
    /// Features the generated code uses.
    pub features: Vec<&'static str>,
    /// A path dependency instead of a version (tests point at the local runtime crate).
    pub path: Option<String>,
    /// Features to ask for when inheriting from the workspace, whose declaration may have
    /// turned default features off.
    pub inherited_features: Vec<&'static str>,
}

impl Dependency {
    /// A registry dependency.
    pub fn new(name: &'static str, version: &str, features: &[&'static str]) -> Self {
        Self {
            name,
            version: version.to_string(),
            features: features.to_vec(),
            path: None,
            inherited_features: Vec::new(),
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
    /// Already there; left as it was.
    Present(&'static str),
}

fn is_sorted(table: &Table) -> bool {
    let keys: Vec<&str> = table.iter().map(|(k, _)| k).collect();
    keys.windows(2).all(|w| w[0] <= w[1])
}

fn features_array(features: &[&str]) -> Array {
    features.iter().copied().collect()
}

/// Whether the workspace manifest declares `name` in `[workspace.dependencies]`.
fn workspace_declares(workspace: Option<&DocumentMut>, name: &str) -> bool {
    workspace
        .and_then(|w| w.get("workspace"))
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.get(name))
        .is_some()
}

/// Adds `deps` to `[dependencies]` of `doc`. `workspace` is the workspace root's manifest
/// (the same document when the package is the root).
pub fn add_dependencies(
    doc: &mut DocumentMut,
    workspace: Option<&DocumentMut>,
    deps: &[Dependency],
) -> Vec<Added> {
    let own_workspace = workspace.is_none();
    let inherited: Vec<bool> = deps
        .iter()
        .map(|d| {
            if own_workspace {
                workspace_declares(Some(doc), d.name)
            } else {
                workspace_declares(workspace, d.name)
            }
        })
        .collect();
    let item = doc
        .as_table_mut()
        .entry("dependencies")
        .or_insert_with(|| Item::Table(Table::new()));
    if !item.is_table_like() {
        *item = Item::Table(Table::new());
    }
    let mut out = Vec::new();
    for (dep, inherit) in deps.iter().zip(inherited) {
        let present = item
            .as_table_like()
            .is_some_and(|t| t.contains_key(dep.name));
        if present {
            out.push(Added::Present(dep.name));
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
        } else if let Some(path) = &dep.path {
            let mut t = InlineTable::new();
            t.insert("path", path.as_str().into());
            if !dep.features.is_empty() {
                t.insert("features", Value::Array(features_array(&dep.features)));
            }
            Value::InlineTable(t)
        } else if dep.features.is_empty() {
            dep.version.as_str().into()
        } else {
            let mut t = InlineTable::new();
            t.insert("version", dep.version.as_str().into());
            t.insert("features", Value::Array(features_array(&dep.features)));
            Value::InlineTable(t)
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

#[cfg(test)]
mod tests {
    use super::*;

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
