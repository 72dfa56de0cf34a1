//! `cargo inngest invoke FUNCTION --data JSON`: starts a run of a function on the dev server,
//! as `step.invoke` would (`POST /v1/functions/{id}/invoke` of the embedded dev server).

use anyhow::Context as _;
use serde_json::{Value, json};

use super::server_api::{Api, Target, data_object};

/// Flags of `invoke`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The function's id, e.g. `shop-welcome-user`.
    function: String,
    /// The data of the event it gets, a JSON object.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    data: String,
    #[command(flatten)]
    target: Target,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let data = data_object(&args.data)?;
    let api = Api::new(&args.target);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let url = api.url(&["v1", "functions", &args.function, "invoke"], &[])?;
    let started = runtime.block_on(api.post(url, &json!({ "data": Value::Object(data) })))?;
    let run_id = started["run_id"].as_str().unwrap_or_default();
    if args.target.json {
        println!("{started}");
    } else {
        println!(
            "started run {run_id} of {} (cargo inngest run {run_id})",
            args.function
        );
    }
    Ok(())
}
