//! `cargo inngest send NAME --data JSON`: sends an event, to a dev server or, with
//! `INNGEST_EVENT_KEY` set and no dev server named, to Inngest, through the runtime's own
//! client.

use anyhow::Context as _;
use inngest_runtime::config::Config;
use inngest_runtime::protocol::EventPayload;
use serde_json::{Value, json};

use super::server_api::{Target, data_object};

/// Flags of `send`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The event's name, e.g. `shop/user.created`.
    name: String,
    /// Its data, a JSON object.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    data: String,
    #[command(flatten)]
    target: Target,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let data = data_object(&args.data)?;
    // A dev server named (flag or INNGEST_DEV) gets it; else the environment decides, as for
    // an app: INNGEST_EVENT_KEY and Inngest Cloud.
    // `INNGEST_DEV=0` (or `false`) means cloud mode, as the runtime reads it.
    let from_env = Config::from_env();
    let named_server = args.target.server.is_some()
        || from_env.mode == inngest_runtime::config::Mode::Dev
        || from_env.event_key.is_none();
    let config = if named_server {
        Config::dev(args.target.base())
    } else {
        from_env
    };
    let client = inngest_runtime::Inngest::with_config("cargo-inngest", config);
    let payload = EventPayload::new(args.name.clone(), Value::Object(data));
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let ids = runtime
        .block_on(client.send_payloads(vec![payload]))
        .with_context(|| format!("sending {}", args.name))?;
    if args.target.json {
        println!("{}", json!({ "name": args.name, "ids": ids }));
    } else {
        println!("sent {} (id {})", args.name, ids.join(", "));
    }
    Ok(())
}
