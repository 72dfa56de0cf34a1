//! `cargo inngest configure`: adds the runtime and what generated code needs to Cargo.toml,
//! writes the config module, the workflows and events modules with a sample of each and
//! `.env.example`, wires the modules in, and says what to do next.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use toml_edit::DocumentMut;

use crate::manifest::{Added, Dependency, GitRef, add_dependencies, add_dev_dependencies};
use crate::plan::Plan;
use crate::project::{self, Project, Selection};
use crate::runtime_source::{self, Choice, Requested};
use crate::rust_edit;
use crate::templates::Templates;

/// Flags of `configure`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    selection: Selection,
    /// Depend on inngest-runtime at this path (default: the checkout this cargo-inngest was
    /// built from, when it is still there, else the published version).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["runtime_git", "runtime_version"])]
    runtime_path: Option<PathBuf>,
    /// Depend on inngest-runtime from this git repository.
    #[arg(long, value_name = "URL", conflicts_with = "runtime_version")]
    runtime_git: Option<String>,
    /// With --runtime-git: this revision.
    #[arg(
        long,
        value_name = "REV",
        requires = "runtime_git",
        conflicts_with = "tag"
    )]
    rev: Option<String>,
    /// With --runtime-git: this tag.
    #[arg(long, value_name = "TAG", requires = "runtime_git")]
    tag: Option<String>,
    /// Depend on this published inngest-runtime version requirement (e.g. "0.1").
    #[arg(long, value_name = "VERSION")]
    runtime_version: Option<String>,
    /// Print the changes as a diff and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Overwrite generated files that already exist.
    #[arg(long)]
    force: bool,
    /// How the generated app reaches Inngest: `serve` (an HTTP endpoint Inngest calls) or
    /// `connect` (an outbound WebSocket worker, no public endpoint).
    #[arg(long, value_enum, default_value_t = Transport::Serve)]
    transport: Transport,
}

/// How the app reaches Inngest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Transport {
    /// An axum endpoint at `/api/inngest`.
    Serve,
    /// A connect worker (`inngest_runtime::connect::Worker`).
    Connect,
}

impl Args {
    fn requested_runtime(&self) -> Requested {
        Requested {
            path: self.runtime_path.clone(),
            git: self.runtime_git.clone(),
            git_ref: match (&self.rev, &self.tag) {
                (Some(r), _) => Some(GitRef::Rev(r.clone())),
                (None, Some(t)) => Some(GitRef::Tag(t.clone())),
                (None, None) => None,
            },
            version: self.runtime_version.clone(),
        }
    }
}

/// `cargo new`'s `src/main.rs`.
const HELLO_WORLD: &str = "fn main() {\n    println!(\"Hello, world!\");\n}\n";

/// The modules configure writes.
const MODULES: [&str; 3] = ["events", "inngest", "workflows"];

fn relative(from: &std::path::Path, to: &std::path::Path) -> String {
    // Both are absolute; walk up from `from` until `to` is below.
    for (up, ancestor) in from.ancestors().enumerate() {
        if let Ok(rest) = to.strip_prefix(ancestor) {
            let mut s = "../".repeat(up);
            s.push_str(&rest.to_string_lossy());
            return if s.is_empty() {
                ".".into()
            } else {
                s.trim_end_matches('/').to_string()
            };
        }
    }
    to.to_string_lossy().to_string()
}

/// Refuses a package on an edition before 2021 (no `edition` key is 2015): the generated code
/// is written for 2021 and later (`async fn`, the 2021 prelude).
fn check_edition(doc: &DocumentMut, root: &DocumentMut, manifest: &Path) -> anyhow::Result<()> {
    let edition = doc.get("package").and_then(|p| p.get("edition"));
    let inherited = edition
        .and_then(|e| e.get("workspace"))
        .and_then(|w| w.as_bool())
        == Some(true);
    let edition = if inherited {
        root.get("workspace")
            .and_then(|w| w.get("package"))
            .and_then(|p| p.get("edition"))
    } else {
        edition
    };
    let edition = edition.and_then(|e| e.as_str()).unwrap_or("2015");
    if matches!(edition, "2015" | "2018") {
        anyhow::bail!(
            "{} is on edition {edition}; the generated code needs edition 2021 or later: set \
             `edition = \"2021\"` (or \"2024\") in [package]",
            manifest.display()
        );
    }
    Ok(())
}

/// The runtime dependency: where from, and why.
fn runtime_choice(args: &Args, project: &Project) -> anyhow::Result<Choice> {
    let requested = args.requested_runtime();
    if let Some(p) = &requested.path {
        if !p.join("Cargo.toml").is_file() {
            anyhow::bail!("--runtime-path {}: no Cargo.toml there", p.display());
        }
        if !runtime_source::is_runtime_crate(p) {
            anyhow::bail!(
                "--runtime-path {}: that Cargo.toml is not the inngest-runtime package",
                p.display()
            );
        }
        // The generated tests run on the test engine, taken from beside the runtime.
        let engine = p.parent().map(|d| d.join("inngest-devserver"));
        if !engine
            .as_ref()
            .is_some_and(|e| e.join("Cargo.toml").is_file())
        {
            anyhow::bail!(
                "--runtime-path {}: the test engine (inngest-devserver) is expected beside it, at {}; \
                 point at the runtime of a full cargo-inngest checkout",
                p.display(),
                engine.unwrap_or_default().display()
            );
        }
    }
    if let Some(v) = &requested.version {
        if let Err(e) = cargo_metadata::semver::VersionReq::parse(v) {
            anyhow::bail!("--runtime-version {v:?} is not a version requirement cargo reads: {e}");
        }
    }
    if let Some(url) = &requested.git {
        if let Err(e) = reqwest::Url::parse(url) {
            anyhow::bail!("--runtime-git {url:?} is not a URL cargo can fetch: {e}");
        }
    }
    let checkout = runtime_source::built_from_checkout();
    Ok(runtime_source::choose(
        &requested,
        checkout.as_deref(),
        |p| {
            std::path::absolute(p)
                .map(|abs| relative(&project.dir, &abs))
                .unwrap_or_else(|_| p.to_string_lossy().into_owned())
        },
    ))
}

fn dependencies(runtime: &Choice, with_server: bool, transport: Transport) -> Vec<Dependency> {
    let mut dep = Dependency {
        source: runtime.source.clone(),
        replace_source: runtime.named,
        ..Dependency::new("inngest-runtime", "", &[])
    };
    // The generated code validates events and serves with axum: the crate's default features.
    dep.inherited_features = vec!["axum", "validate"];
    if transport == Transport::Connect {
        dep.features = vec!["connect"];
        dep.inherited_features = vec!["connect", "validate"];
    }
    let mut deps = vec![
        Dependency::new("garde", "0.23", &["derive"]),
        dep,
        Dependency::new("serde", "1", &["derive"]),
        // Workflows log with `tracing`; the runtime's spans tag each line with its run.
        Dependency::new("tracing", "0.1", &[]),
    ];
    if with_server {
        if transport == Transport::Serve {
            deps.push(Dependency::new("axum", "0.8", &[]));
        }
        deps.push(Dependency::new("dotenvy", "0.15", &[]));
        deps.push(Dependency::new(
            "tokio",
            "1",
            match transport {
                Transport::Serve => &["macros", "rt-multi-thread", "net"],
                Transport::Connect => &["macros", "rt-multi-thread", "signal"],
            },
        ));
        deps.push(Dependency::new(
            "tracing-subscriber",
            "0.3",
            &["env-filter"],
        ));
    }
    deps
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let project = project::locate(&args.selection)?;
    let templates = Templates::for_project(&project.dir)?;
    let mut plan = Plan::default();
    let mut advice: Vec<String> = Vec::new();

    // How the modules are wired in.
    let main_path = project.path("src/main.rs");
    let main_text = std::fs::read_to_string(&main_path).ok();
    let write_main = main_text
        .as_deref()
        .is_some_and(|t| t.replace("\r\n", "\n") == HELLO_WORLD)
        && !project.has_lib();
    let app_id = project.app_id();
    let crate_name = project.name.replace('-', "_");
    let transport = match args.transport {
        Transport::Serve => "serve",
        Transport::Connect => "connect",
    };
    let values = [
        ("package", project.name.as_str()),
        ("crate_name", crate_name.as_str()),
        ("app_id", app_id.as_str()),
        ("transport", transport),
    ];

    // Cargo.toml.
    let (manifest_text, mut doc) = project::read_manifest(&project.manifest)?;
    let workspace_doc = match &project.workspace_manifest {
        Some(p) => Some(project::read_manifest(p)?.1),
        None => None,
    };
    check_edition(
        &doc,
        workspace_doc.as_ref().unwrap_or(&doc),
        &project.manifest,
    )?;
    let runtime = runtime_choice(&args, &project)?;
    let added = add_dependencies(
        &mut doc,
        workspace_doc.as_ref(),
        &dependencies(&runtime, write_main, args.transport),
    );
    // The tests `make workflow` writes run on the test engine.
    let added_dev = add_dev_dependencies(
        &mut doc,
        workspace_doc.as_ref(),
        &[
            Dependency {
                source: runtime_source::devserver_source(&runtime.source),
                replace_source: runtime.named,
                ..Dependency::new("inngest-devserver", "", &[])
            },
            Dependency::new("tokio", "1", &["macros", "rt"]),
        ],
    );
    let new_manifest = doc.to_string();
    if new_manifest != manifest_text {
        plan.set(project.manifest.clone(), new_manifest)?;
    }

    // Generated files.
    for module in ["events", "workflows"] {
        let file = project.path(&format!("src/{module}.rs"));
        if file.exists() {
            anyhow::bail!(
                "{} exists: configure writes the `{module}` module as src/{module}/ (a mod.rs and \
                 a file each); move yours to src/{module}/mod.rs first, and configure adds to it",
                file.display()
            );
        }
    }
    let hello_event = format!("{app_id}/hello.requested");
    // Files `make` edits, rendered again by --force, keep what `make` added to them.
    let config_path = project.path("src/inngest.rs");
    let mut config = templates.render("inngest.rs", &values)?;
    if let Some(old) = std::fs::read_to_string(&config_path)
        .ok()
        .filter(|_| args.force)
    {
        let (carried, lost) = rust_edit::carry_registrations(&old, &config);
        config = carried;
        for expr in lost {
            advice.push(format!(
                "src/inngest.rs registered {expr}, and the template has no place marked for it: add `.register({expr})` back"
            ));
        }
    }
    plan.create(config_path, config, args.force)?;
    // A module file: rendered when new; with --force rendered again, keeping what `make`
    // added; else kept, with the sample configure writes beside it exported (a module the
    // user wrote would otherwise leave it out, and the registration of it would not build).
    let module_file = |plan: &mut Plan,
                       module: &str,
                       template: &str,
                       (sample, ty): (&str, &str)|
     -> anyhow::Result<()> {
        let path = project.path(module);
        let rendered = templates.render(template, &values)?;
        match std::fs::read_to_string(&path).ok() {
            None => plan.create(path, rendered, args.force),
            Some(old) if args.force => {
                plan.create(path, rust_edit::carry_exports(&old, &rendered), true)
            }
            Some(old) => {
                let exported = rust_edit::add_export(&old, sample, ty);
                if exported == old {
                    plan.create(path, rendered, false)
                } else {
                    plan.set(path, exported)
                }
            }
        }
    };
    module_file(
        &mut plan,
        "src/workflows/mod.rs",
        "workflows_mod.rs",
        ("hello_workflow", "HelloWorkflow"),
    )?;
    plan.create(
        project.path("src/workflows/hello_workflow.rs"),
        templates.render("hello_workflow.rs", &values)?,
        args.force,
    )?;
    module_file(
        &mut plan,
        "src/events/mod.rs",
        "events_mod.rs",
        ("hello_requested", "HelloRequested"),
    )?;
    plan.create(
        project.path("src/events/hello_requested.rs"),
        templates.render(
            "event.rs",
            &[
                ("type_name", "HelloRequested"),
                ("event_name", hello_event.as_str()),
            ],
        )?,
        args.force,
    )?;
    plan.create(
        project.path(".env.example"),
        templates.render("env.example", &values)?,
        args.force,
    )?;

    // Wiring.
    if project.has_lib() {
        let lib = project.path("src/lib.rs");
        let text = std::fs::read_to_string(&lib)
            .with_context(|| format!("cannot read {}", lib.display()))?;
        plan.set(lib, rust_edit::add_mods(&text, &MODULES, "pub "))?;
        if project.has_main() {
            advice.push(format!(
                "serve it from src/main.rs: `let app = {}::inngest::app({}::inngest::client())?;` then mount `inngest_runtime::serve::axum::endpoint(app)` at /api/inngest",
                project.name.replace('-', "_"),
                project.name.replace('-', "_")
            ));
        }
    } else if write_main {
        plan.set(main_path, templates.render("main.rs", &values)?)?;
    } else if let Some(text) = main_text {
        let missing: Vec<&str> = MODULES
            .iter()
            .copied()
            .filter(|m| !rust_edit::declares_mod(&text, m))
            .collect();
        if !missing.is_empty() {
            advice.push(format!(
                "src/main.rs is yours, so it was left as it is. Add:\n      {}\n    and serve the app: `let app = inngest::app(inngest::client())?;` then mount `inngest_runtime::serve::axum::endpoint(app)` at /api/inngest (add axum and tokio if you do not have them)",
                missing.iter().map(|m| format!("mod {m};")).collect::<Vec<_>>().join(" ")
            ));
        }
    } else {
        advice.push("no src/main.rs or src/lib.rs: add `mod events; mod inngest; mod workflows;` to your crate root".into());
    }

    let root = &project.dir;
    if args.dry_run {
        print!("{}", plan.diff(root));
        println!(
            "(dry run: nothing written; {} file(s) would change)",
            plan.changes().len()
        );
        return Ok(());
    }
    if plan.is_empty() {
        println!(
            "Nothing to change: {} is already configured for Inngest.",
            project.name
        );
    } else {
        plan.apply()?;
        println!("Configured {} for Inngest:", project.name);
        for line in plan.report(root) {
            println!("  {line}");
        }
        for a in &added {
            match a {
                Added::New("inngest-runtime") => println!(
                    "  added dependency inngest-runtime: {} ({})",
                    runtime.source, runtime.why
                ),
                Added::New(n) => println!("  added dependency {n}"),
                Added::Inherited(n) => println!("  added dependency {n} (workspace = true)"),
                Added::Replaced(n, old) => println!(
                    "  changed dependency {n} from `{old}` to {} ({})",
                    runtime.source, runtime.why
                ),
                Added::Featured(n, features) => println!(
                    "  added feature{} {} to dependency {n}",
                    if features.len() == 1 { "" } else { "s" },
                    features.join(", ")
                ),
                Added::Present(..) => {}
            }
        }
        for a in &added_dev {
            match a {
                Added::New(n) => println!("  added dev-dependency {n} (for the workflow tests)"),
                Added::Inherited(n) => println!("  added dev-dependency {n} (workspace = true)"),
                Added::Replaced(n, old) => println!("  changed dev-dependency {n} from `{old}`"),
                Added::Featured(n, features) => println!(
                    "  added feature{} {} to dev-dependency {n}",
                    if features.len() == 1 { "" } else { "s" },
                    features.join(", ")
                ),
                Added::Present(..) => {}
            }
        }
    }
    for a in &added {
        if let Added::Present("inngest-runtime", old) = a {
            if !runtime.named {
                println!(
                    "  kept dependency inngest-runtime = {old} (--runtime-path, --runtime-git or --runtime-version replace it)"
                );
            }
        }
    }
    if !plan.is_empty() {
        for (path, why) in &plan.kept {
            println!(
                "  kept {} ({why})",
                path.strip_prefix(root).unwrap_or(path).display()
            );
        }
    }
    for a in &advice {
        println!("  note: {a}");
    }
    println!("Next:");
    println!("  cargo inngest make workflow WelcomeUser --event user/user.created");
    println!(
        "  cargo inngest dev          # runs the app against a dev server; then send {hello_event}"
    );
    Ok(())
}
