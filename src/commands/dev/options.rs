//! What `dev` runs with, as plain data: [`DevOptions`], which the clap layer builds, and the
//! checks that build it (events that are JSON, the binary to run, a port for the app).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::server::Choice;
use crate::project::Project;

/// Everything `dev` needs, checked.
#[derive(Debug)]
pub struct DevOptions {
    /// The package to build and run.
    pub project: Project,
    /// Which dev server to run.
    pub server: Choice,
    /// The dev server's port (0: a free one).
    pub port: u16,
    /// SQLite file for the embedded server's state (`None`: in memory).
    pub state: Option<PathBuf>,
    /// The port the app listens on. Never 0: a free one was picked.
    pub app_port: u16,
    /// The app's serve path, e.g. `/api/inngest`.
    pub serve_path: String,
    /// The binary to build and run (`None`: the package's only one).
    pub bin: Option<String>,
    /// Build in release mode.
    pub release: bool,
    /// Events to send once the app first serves.
    pub events: Vec<Value>,
    /// How long the official dev server gets to start and answer.
    pub official_timeout: Duration,
    /// How long changes must be quiet before a rebuild.
    pub debounce: Duration,
}

impl DevOptions {
    /// The app's serve URL, which the dev server syncs.
    pub fn app_url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.app_port, self.serve_path)
    }
}

/// A flag of `dev` that does not fit the project.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A `--send` value is not JSON.
    #[error("--send {text:?} is not JSON")]
    EventNotJson {
        /// The value given.
        text: String,
        /// Why it does not parse.
        source: serde_json::Error,
    },
    /// The package has no binary target.
    #[error("{package} has no binary to run")]
    NoBinary {
        /// The package.
        package: String,
    },
    /// The package has several binaries, no `default-run` and no `--bin`.
    #[error("{package} has several binaries ({}): pick one with --bin", bins.join(", "))]
    SeveralBinaries {
        /// The package.
        package: String,
        /// Its binaries.
        bins: Vec<String>,
    },
    /// No port could be found for the app.
    #[error("cannot find a free port for the app")]
    NoFreePort(#[source] std::io::Error),
}

/// The `--send` values, as JSON.
pub fn parse_events(texts: &[String]) -> Result<Vec<Value>, OptionsError> {
    texts
        .iter()
        .map(|text| {
            serde_json::from_str(text).map_err(|source| OptionsError::EventNotJson {
                text: text.clone(),
                source,
            })
        })
        .collect()
}

/// The binary to build: `--bin`, else the only one, else `default-run`.
pub fn pick_bin(project: &Project, bin: Option<String>) -> Result<Option<String>, OptionsError> {
    match (bin, project.bins.len(), &project.default_run) {
        (Some(b), _, _) => Ok(Some(b)),
        (None, 0, _) => Err(OptionsError::NoBinary {
            package: project.name.clone(),
        }),
        (None, 1, _) => Ok(None),
        (None, _, Some(d)) => Ok(Some(d.clone())),
        (None, _, None) => Err(OptionsError::SeveralBinaries {
            package: project.name.clone(),
            bins: project.bins.clone(),
        }),
    }
}

/// `--app-port`, with 0 replaced by a free port. The app binds it itself, and the dev server
/// must know its URL before it starts, so the port is chosen here, once, for every restart.
pub fn app_port(requested: u16) -> Result<u16, OptionsError> {
    match requested {
        0 => free_port().map_err(OptionsError::NoFreePort),
        port => Ok(port),
    }
}

/// A port nobody listens on now, for a child that binds the port it is told.
pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(bins: &[&str], default_run: Option<&str>) -> Project {
        Project {
            name: "shop".into(),
            manifest: PathBuf::from("/p/Cargo.toml"),
            dir: PathBuf::from("/p"),
            workspace_manifest: None,
            workspace_root: PathBuf::from("/p"),
            target_dir: PathBuf::from("/p/target"),
            bins: bins.iter().map(|b| b.to_string()).collect(),
            default_run: default_run.map(str::to_string),
        }
    }

    #[test]
    fn the_binary_is_the_flag_the_only_one_or_default_run() {
        assert_eq!(
            pick_bin(&project(&["a", "b"], None), Some("b".into())).ok(),
            Some(Some("b".into()))
        );
        assert_eq!(pick_bin(&project(&["a"], None), None).ok(), Some(None));
        assert_eq!(
            pick_bin(&project(&["a", "b"], Some("a")), None).ok(),
            Some(Some("a".into()))
        );
        let several = pick_bin(&project(&["a", "b"], None), None).map_err(|e| e.to_string());
        assert_eq!(
            several,
            Err("shop has several binaries (a, b): pick one with --bin".into())
        );
        assert!(matches!(
            pick_bin(&project(&[], None), None),
            Err(OptionsError::NoBinary { .. })
        ));
    }

    #[test]
    fn events_must_be_json() {
        let ok = parse_events(&[r#"{"name":"a/b"}"#.into()]).map_err(|e| e.to_string());
        assert_eq!(ok, Ok(vec![serde_json::json!({ "name": "a/b" })]));
        let bad = parse_events(&["{nope".into()]).map_err(|e| e.to_string());
        assert_eq!(bad, Err(r#"--send "{nope" is not JSON"#.into()));
    }

    #[test]
    fn app_port_zero_is_replaced_by_a_port() {
        assert_eq!(app_port(4000).ok(), Some(4000));
        assert!(app_port(0).is_ok_and(|p| p != 0));
    }
}
