//! `cargo inngest list`: the workflows and events a project declares.

use crate::project::{self, Selection};
use crate::scan;

/// Flags of `list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    selection: Selection,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let project = project::locate(&args.selection)?;
    let app_id = project.app_id();
    let workflows = scan::workflows(&project);
    let events = scan::events(&project);
    println!("{} (app id {app_id:?})", project.name);
    println!("workflows:");
    if workflows.is_empty() {
        println!("  (none: cargo inngest make workflow <Name>)");
    }
    let w = workflows
        .iter()
        .map(|x| x.id.len() + app_id.len() + 1)
        .max()
        .unwrap_or(0);
    for x in &workflows {
        println!(
            "  {:<w$}  {:<28} {}{}",
            format!("{app_id}-{}", x.id),
            x.type_name,
            x.trigger,
            if x.registered {
                ""
            } else {
                "  (not registered in src/inngest.rs)"
            }
        );
    }
    println!("events:");
    if events.is_empty() {
        println!("  (none: cargo inngest make event <Name>)");
    }
    let w = events.iter().map(|x| x.event_name.len()).max().unwrap_or(0);
    for x in &events {
        println!("  {:<w$}  {}", x.event_name, x.type_name);
    }
    Ok(())
}
