//! `cargo inngest make workflow <Name>` and `make event <Name>`: render a template and register
//! the result (module export, workflow list).

use anyhow::{Context as _, bail};

use crate::names::{self, Names};
use crate::plan::Plan;
use crate::project::{self, Project, Selection};
use crate::rust_edit;
use crate::scan;
use crate::templates::Templates;

/// What to make.
#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// A workflow: `src/workflows/<name>_workflow.rs`, registered in `src/inngest.rs`.
    Workflow(WorkflowArgs),
    /// A typed event: `src/events/<name>.rs`.
    Event(EventArgs),
}

/// Flags shared by `make` commands.
#[derive(clap::Args, Debug)]
pub struct Common {
    #[command(flatten)]
    selection: Selection,
    /// Overwrite the file if it exists.
    #[arg(long)]
    force: bool,
    /// Print the changes as a diff and write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Flags of `make workflow`.
#[derive(clap::Args, Debug)]
pub struct WorkflowArgs {
    /// The workflow's name: `WelcomeUser`, `welcome_user` or `welcome-user`.
    name: String,
    /// The triggering event's name (its type is reused, or generated in src/events).
    #[arg(long, value_name = "EVENT_NAME", conflicts_with = "cron")]
    event: Option<String>,
    /// A cron schedule instead of an event (five fields, optional `TZ=Zone` prefix).
    #[arg(long, value_name = "SCHEDULE")]
    cron: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Flags of `make event`.
#[derive(clap::Args, Debug)]
pub struct EventArgs {
    /// The event's type name: `UserCreated`, `user_created` or `user-created`.
    name: String,
    /// The event's Inngest name (default `<app id>/<name in kebab case>`).
    #[arg(long = "event-name", value_name = "EVENT_NAME")]
    event_name: Option<String>,
    #[command(flatten)]
    common: Common,
}

pub fn run(what: What) -> anyhow::Result<()> {
    match what {
        What::Workflow(args) => workflow(args),
        What::Event(args) => event(args),
    }
}

fn configured(project: &Project) -> anyhow::Result<()> {
    for f in [
        "src/inngest.rs",
        "src/workflows/mod.rs",
        "src/events/mod.rs",
    ] {
        if !project.path(f).is_file() {
            bail!(
                "{} has no {f}: run `cargo inngest configure` first",
                project.name
            );
        }
    }
    Ok(())
}

/// The file an event type is written to, relative to the package: `src/events/<snake>.rs`.
fn event_file(type_name: &str) -> String {
    format!(
        "src/events/{}.rs",
        heck::ToSnakeCase::to_snake_case(type_name)
    )
}

/// Plans a new event type: its file, and its export from `src/events/mod.rs`.
fn plan_event(
    plan: &mut Plan,
    project: &Project,
    templates: &Templates,
    type_name: &str,
    event_name: &str,
    force: bool,
) -> anyhow::Result<()> {
    let snake = heck::ToSnakeCase::to_snake_case(type_name);
    names::check_event_type(type_name, &snake)?;
    let file = project.path(&event_file(type_name));
    if file.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", file.display());
    }
    plan.set(
        file,
        templates.render(
            "event.rs",
            &[("type_name", type_name), ("event_name", event_name)],
        )?,
    )?;
    let mod_path = project.path("src/events/mod.rs");
    let text = plan.current(&mod_path)?.unwrap_or_default();
    plan.set(mod_path, rust_edit::add_export(&text, &snake, type_name))?;
    Ok(())
}

fn finish(plan: &Plan, project: &Project, dry_run: bool, what: &str) -> anyhow::Result<()> {
    if dry_run {
        print!("{}", plan.diff(&project.dir));
        println!("(dry run: nothing written)");
        return Ok(());
    }
    plan.apply()?;
    println!("{what}");
    for line in plan.report(&project.dir) {
        println!("  {line}");
    }
    Ok(())
}

fn workflow(args: WorkflowArgs) -> anyhow::Result<()> {
    let names = Names::parse(&args.name, "Workflow")?;
    let project = project::locate(&args.common.selection)?;
    configured(&project)?;
    let templates = Templates::for_project(&project.dir)?;
    let mut plan = Plan::default();
    let type_name = format!("{}Workflow", names.camel);
    let module = format!("{}_workflow", names.snake);
    let file = project.path(&format!("src/workflows/{module}.rs"));
    if file.exists() && !args.common.force {
        bail!(
            "{} exists: a workflow named {} is already there; pass --force to overwrite it",
            file.display(),
            names.camel
        );
    }

    let cron = match &args.cron {
        Some(c) => {
            inngest_runtime::cron::CronSchedule::parse(c)
                .with_context(|| format!("--cron {c:?} is not a valid schedule"))?;
            // Trimmed as it was parsed: a trailing newline would end the doc line it goes in.
            c.trim().to_string()
        }
        None => String::new(),
    };
    // A test can build an event this command writes; one the user wrote may have any fields.
    let mut event_is_new = false;
    let (event_type, event_name) = if cron.is_empty() {
        let event_name = args
            .event
            .clone()
            .unwrap_or_else(|| format!("{}/{}.requested", project.app_id(), names.kebab));
        names::check_event_name(&event_name)?;
        let existing = scan::events(&project);
        match existing.iter().find(|e| e.event_name == event_name) {
            Some(found) => (found.type_name.clone(), event_name),
            None => {
                let type_name = match &args.event {
                    Some(n) => names::event_type_for(n)?,
                    None => format!("{}Requested", names.camel),
                };
                if let Some(clash) = existing.iter().find(|e| e.type_name == type_name) {
                    bail!(
                        "event type {type_name} already exists in {} for {:?}; make the event with another name first (`cargo inngest make event <Name> --event-name {event_name}`)",
                        clash.file,
                        clash.event_name
                    );
                }
                plan_event(
                    &mut plan,
                    &project,
                    &templates,
                    &type_name,
                    &event_name,
                    false,
                )?;
                event_is_new = true;
                (type_name, event_name)
            }
        }
    } else {
        (String::new(), String::new())
    };

    let output_type = format!("{}Output", names.camel);
    plan.set(
        file,
        templates.render(
            "workflow.rs",
            &[
                ("type_name", type_name.as_str()),
                ("output_type", output_type.as_str()),
                ("workflow_id", names.kebab.as_str()),
                ("event_type", event_type.as_str()),
                ("event_name", event_name.as_str()),
                ("cron", cron.as_str()),
                ("event_is_new", if event_is_new { "true" } else { "" }),
            ],
        )?,
    )?;
    let mod_path = project.path("src/workflows/mod.rs");
    let text = plan.current(&mod_path)?.unwrap_or_default();
    plan.set(mod_path, rust_edit::add_export(&text, &module, &type_name))?;
    let config = project.path("src/inngest.rs");
    let text = plan.current(&config)?.unwrap_or_default();
    let registered =
        rust_edit::register(&text, &format!("crate::workflows::{type_name}::default()"))
            .with_context(|| format!("registering {type_name} in {}", config.display()))?;
    plan.set(config, registered)?;
    let trigger = if cron.is_empty() {
        format!("on {event_name}")
    } else {
        format!("on schedule {cron}")
    };
    finish(
        &plan,
        &project,
        args.common.dry_run,
        &format!(
            "Made workflow {type_name} (id {:?}, {trigger}):",
            names.kebab
        ),
    )
}

fn event(args: EventArgs) -> anyhow::Result<()> {
    let names = Names::parse(&args.name, "Event")?;
    let project = project::locate(&args.common.selection)?;
    configured(&project)?;
    let templates = Templates::for_project(&project.dir)?;
    let event_name = args
        .event_name
        .clone()
        .unwrap_or_else(|| format!("{}/{}", project.app_id(), names.kebab));
    names::check_event_name(&event_name)?;
    if let Some(e) = scan::events(&project)
        .into_iter()
        .find(|e| e.event_name == event_name && e.type_name != names.camel)
    {
        bail!(
            "{:?} is already the event {} in {}",
            event_name,
            e.type_name,
            e.file
        );
    }
    // The same type written elsewhere (by hand, in another file) would be defined twice.
    let file = event_file(&names.camel);
    if let Some(e) = scan::events(&project)
        .into_iter()
        .find(|e| e.type_name == names.camel && e.file != file)
    {
        bail!(
            "an event type {} already exists in {} (for {:?}); pick another name",
            e.type_name,
            e.file,
            e.event_name
        );
    }
    let mut plan = Plan::default();
    plan_event(
        &mut plan,
        &project,
        &templates,
        &names.camel,
        &event_name,
        args.common.force,
    )?;
    finish(
        &plan,
        &project,
        args.common.dry_run,
        &format!("Made event {} ({event_name:?}):", names.camel),
    )
}
