//! Concurrency limits, cancellation by event and by the API, the runs API, time control over
//! HTTP and the page, with Rust workflows served in process.

mod support;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use inngest_devserver::{DevServer, RunStatus};
use inngest_runtime::options::ConcurrencyScope;
use inngest_runtime::{App, Concurrency, Context, Event, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct SlowRequested {
    #[garde(skip)]
    n: u32,
}
impl Event for SlowRequested {
    const NAME: &'static str = "test/slow.requested";
}

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static MAX_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// One step that takes a while; at most one run's step at a time.
struct Slow;
impl Workflow for Slow {
    type Event = SlowRequested;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("slow").concurrency(1)
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        let n = ctx.event.data.n;
        ctx.step
            .run("work", move || async move {
                let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
                MAX_IN_FLIGHT.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                Ok(n)
            })
            .await
    }
}

/// Calls in flight per key and over all keys, and the most of each seen at once.
struct Gauge(Mutex<GaugeState>);

struct GaugeState {
    now: BTreeMap<String, usize>,
    total: usize,
    max_per_key: usize,
    max_total: usize,
}

impl Gauge {
    const fn new() -> Self {
        Self(Mutex::new(GaugeState {
            now: BTreeMap::new(),
            total: 0,
            max_per_key: 0,
            max_total: 0,
        }))
    }

    /// Holds a call for `key` in flight for a while.
    async fn hold(&self, key: &str) {
        {
            let mut g = self.0.lock().expect("not poisoned");
            let n = g.now.entry(key.to_string()).or_default();
            *n += 1;
            let n = *n;
            g.total += 1;
            g.max_per_key = g.max_per_key.max(n);
            g.max_total = g.max_total.max(g.total);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut g = self.0.lock().expect("not poisoned");
        if let Some(n) = g.now.get_mut(key) {
            *n -= 1;
        }
        g.total -= 1;
    }

    /// The most calls seen at once for one key, and over all keys.
    fn maxima(&self) -> (usize, usize) {
        let g = self.0.lock().expect("not poisoned");
        (g.max_per_key, g.max_total)
    }
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct UserJob {
    #[garde(skip)]
    user: String,
}
impl Event for UserJob {
    const NAME: &'static str = "test/user.job";
}

static PER_USER: Gauge = Gauge::new();

/// Two limits: two calls at once over all users, and one per user. A server that kept only the
/// first limit would run one user's calls side by side.
struct PerUser;
impl Workflow for PerUser {
    type Event = UserJob;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("per-user")
            .concurrency(2)
            .concurrency(Concurrency::new(1).key("event.data.user"))
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        let user = ctx.event.data.user.clone();
        ctx.step
            .run("work", move || async move {
                PER_USER.hold(&user).await;
                Ok(user)
            })
            .await
    }
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct AccountJob {
    #[garde(skip)]
    account: String,
}
impl Event for AccountJob {
    const NAME: &'static str = "test/account.job";
}

static PER_ACCOUNT: Gauge = Gauge::new();

/// One call at once per account across the environment, which two functions share.
fn per_account(id: &str) -> WorkflowOptions {
    WorkflowOptions::new(id).concurrency(
        Concurrency::new(1)
            .key("event.data.account")
            .scope(ConcurrencyScope::Env),
    )
}

async fn account_work(
    ctx: &Context<impl Workflow<Event = AccountJob>>,
) -> Result<String, WorkflowError> {
    let account = ctx.event.data.account.clone();
    ctx.step
        .run("work", move || async move {
            PER_ACCOUNT.hold(&account).await;
            Ok(account)
        })
        .await
}

struct Billing;
impl Workflow for Billing {
    type Event = AccountJob;
    type Output = String;
    fn options() -> WorkflowOptions {
        per_account("billing")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        account_work(&ctx).await
    }
}

struct Audit;
impl Workflow for Audit {
    type Event = AccountJob;
    type Output = String;
    fn options() -> WorkflowOptions {
        per_account("audit")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        account_work(&ctx).await
    }
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct OrderPlaced {
    #[garde(skip)]
    id: String,
}
impl Event for OrderPlaced {
    const NAME: &'static str = "test/order.placed";
}

/// Waits a day, unless the order is cancelled.
struct Fulfil;
impl Workflow for Fulfil {
    type Event = OrderPlaced;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("fulfil").cancel_on(
            "test/order.cancelled",
            Some("event.data.id == async.data.id"),
        )
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        ctx.step.sleep("cool-off", "1d").await?;
        Ok(format!("shipped {}", ctx.event.data.id))
    }
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Doom {
    #[garde(skip)]
    reason: String,
}
impl Event for Doom {
    const NAME: &'static str = "test/doom";
}

/// Fails for good; its failure handler reports what it was told.
struct Doomed;
impl Workflow for Doomed {
    type Event = Doom;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("doomed")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<(), WorkflowError> {
        Err(WorkflowError::non_retriable(ctx.event.data.reason.clone()))
    }
    async fn on_failure(
        &self,
        ctx: inngest_runtime::FailureContext<Self>,
    ) -> Result<(), WorkflowError> {
        let report = json!({
            "failed_run": ctx.failed_run_id,
            "function_id": ctx.function_id,
            "message": ctx.error.message,
            "reason": ctx.event.as_ref().map(|e| e.data.reason.clone()),
            "raw_name": ctx.raw_event["name"],
        });
        FAILURE_REPORTS.lock().expect("not poisoned").push(report);
        Ok(())
    }
}

/// What `Doomed`'s failure handler was told, one report per run of it.
static FAILURE_REPORTS: Mutex<Vec<Value>> = Mutex::new(Vec::new());

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Nap {
    #[garde(skip)]
    minutes: u64,
}
impl Event for Nap {
    const NAME: &'static str = "test/nap";
}

/// Sleeps some minutes, then answers.
struct Napper;
impl Workflow for Napper {
    type Event = Nap;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("napper")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        let minutes = ctx.event.data.minutes;
        ctx.step
            .sleep("nap", Duration::from_secs(minutes * 60))
            .await?;
        Ok(format!("napped {minutes}m"))
    }
}

/// Invokes a napper with a 10 minute timeout.
struct Impatient;
impl Workflow for Impatient {
    type Event = Nap;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("impatient")
    }
    fn triggers() -> Vec<inngest_runtime::Trigger> {
        vec![
            inngest_runtime::Trigger::event::<Nap>()
                .when("event.data.minutes > 0 && event.data.minutes < 1000"),
        ]
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        let minutes = ctx.event.data.minutes;
        match ctx
            .step
            .invoke_with_timeout::<Napper>("ask", Nap { minutes }, "10m")
            .await
        {
            Ok(answer) => Ok(format!("child said {answer}")),
            Err(e) => Ok(format!("gave up: {}", e.name())),
        }
    }
}

struct Setup {
    server: DevServer,
    http: reqwest::Client,
    _app: support::RustApp,
}

impl Setup {
    async fn new() -> Self {
        let (server, app) = support::server_with_app("features", |client| {
            App::builder(client)
                .register(Slow)
                .register(Fulfil)
                .register(Doomed)
                .register(Napper)
                .register(Impatient)
                .build()
        })
        .await;
        Self {
            server,
            http: reqwest::Client::new(),
            _app: app,
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.server.url()))
            .send()
            .await
            .expect("an answer");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.server.url()))
            .json(&body)
            .send()
            .await
            .expect("an answer");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The run an event started, over the runs API.
    async fn run_of(&self, event_id: &str) -> Value {
        for _ in 0..300 {
            let (_, body) = self.get(&format!("/v1/events/{event_id}/runs")).await;
            if let Some(run) = body["data"].as_array().and_then(|a| a.first()) {
                return run.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("event {event_id} started no run");
    }

    async fn status_of(&self, run_id: &str, until: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..500 {
            let (code, body) = self.get(&format!("/v1/runs/{run_id}")).await;
            assert_eq!(code, 200, "{body}");
            if body["data"]["status"] == until {
                return body["data"].clone();
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("run {run_id} never became {until}: {last}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrency_limit_of_one_runs_one_step_at_a_time() {
    let s = Setup::new().await;
    let events: Vec<Value> = (0..3)
        .map(|n| json!({ "name": SlowRequested::NAME, "data": { "n": n } }))
        .collect();
    let (code, body) = s.post("/e/any-key", json!(events)).await;
    assert_eq!(code, 200, "{body}");
    let ids: Vec<String> = serde_json::from_value(body["ids"].clone()).expect("ids");
    assert_eq!(ids.len(), 3);
    for (n, id) in ids.iter().enumerate() {
        let run = s.run_of(id).await;
        let done = s
            .status_of(run["run_id"].as_str().expect("id"), "Completed")
            .await;
        assert_eq!(done["output"], json!(n));
    }
    assert_eq!(
        MAX_IN_FLIGHT.load(Ordering::SeqCst),
        1,
        "the limit was exceeded"
    );
}

/// Waits for the run of `function_id` that `event_id` started to complete.
async fn completed(server: &DevServer, event_id: &str, function_id: &str) -> Value {
    let run = server
        .finished_run(event_id, function_id, Duration::from_secs(20))
        .await
        .expect("running")
        .unwrap_or_else(|| panic!("the run of {function_id} for {event_id} did not finish"));
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    run.output.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_concurrency_limit_is_enforced_too() {
    let (server, _app) = support::server_with_app("limits", |client| {
        App::builder(client).register(PerUser).build()
    })
    .await;
    let job = |user: &str| json!({ "name": UserJob::NAME, "data": { "user": user } });
    let ids = server
        .send(vec![job("a"), job("a"), job("b"), job("c")])
        .await
        .expect("accepted");
    for (id, user) in ids.iter().zip(["a", "a", "b", "c"]) {
        assert_eq!(completed(&server, id, "limits-per-user").await, json!(user));
    }
    let (per_user, total) = PER_USER.maxima();
    assert_eq!(per_user, 1, "the per-user limit (the second) was exceeded");
    assert!(
        total <= 2,
        "the function's limit (the first) was exceeded: {total}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_env_scoped_limit_is_shared_by_the_functions_of_the_environment() {
    let (server, _app) = support::server_with_app("scoped", |client| {
        App::builder(client)
            .register(Billing)
            .register(Audit)
            .build()
    })
    .await;
    // One event starts a run of each function; both take a slot for the same account.
    let ids = server
        .send(vec![
            json!({ "name": AccountJob::NAME, "data": { "account": "acme" } }),
        ])
        .await
        .expect("accepted");
    for function in ["scoped-billing", "scoped-audit"] {
        assert_eq!(completed(&server, &ids[0], function).await, json!("acme"));
    }
    let (per_account, _) = PER_ACCOUNT.maxima();
    assert_eq!(
        per_account, 1,
        "the two functions ran for one account at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_cancelled_by_matching_events_and_by_the_api() {
    let s = Setup::new().await;
    let place = |id: &str| json!({ "name": OrderPlaced::NAME, "data": { "id": id } });
    let (_, body) = s
        .post("/e/k", json!([place("o1"), place("o2"), place("o3")]))
        .await;
    let ids: Vec<String> = serde_json::from_value(body["ids"].clone()).expect("ids");
    let mut runs = Vec::new();
    for id in &ids {
        let run = s.run_of(id).await;
        let run_id = run["run_id"].as_str().expect("id").to_string();
        // Wait until each run sleeps.
        for _ in 0..300 {
            let (_, r) = s.get(&format!("/v1/runs/{run_id}")).await;
            if r["data"]["steps"]
                .as_array()
                .is_some_and(|st| st.iter().any(|x| x["op"] == "Sleep"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        runs.push(run_id);
    }

    // A cancel event for o1 only.
    let (code, _) = s
        .post(
            "/e/k",
            json!({ "name": "test/order.cancelled", "data": { "id": "o1" } }),
        )
        .await;
    assert_eq!(code, 200);
    s.status_of(&runs[0], "Cancelled").await;

    // o3 through the API.
    let resp = s
        .http
        .delete(format!("{}/v1/runs/{}", s.server.url(), runs[2]))
        .send()
        .await
        .expect("an answer");
    assert_eq!(resp.status().as_u16(), 200);
    s.status_of(&runs[2], "Cancelled").await;

    // The day passes over HTTP: only o2 ships.
    let (code, body) = s
        .post("/dev/time/advance", json!({ "duration": "1d" }))
        .await;
    assert_eq!(code, 200, "{body}");
    let done = s.status_of(&runs[1], "Completed").await;
    assert_eq!(done["output"], json!("shipped o2"));
    for cancelled in [&runs[0], &runs[2]] {
        let (_, r) = s.get(&format!("/v1/runs/{cancelled}")).await;
        assert_eq!(r["data"]["status"], "Cancelled");
    }
    let (_, recent) = s.server.engine().recent().await.expect("running");
    let cancelled_events = recent
        .iter()
        .filter(|e| e["name"] == "inngest/function.cancelled")
        .count();
    assert_eq!(cancelled_events, 2);

    // The runs list pages by cursor: two at a time reach all three, newest first.
    let (_, first) = s.get("/v1/runs?function_id=features-fulfil&limit=2").await;
    assert_eq!(first["metadata"]["total"], 3, "{first}");
    let cursor = first["metadata"]["next_before"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (_, second) = s
        .get(&format!(
            "/v1/runs?function_id=features-fulfil&limit=2&before={cursor}"
        ))
        .await;
    assert_eq!(second["metadata"]["next_before"], Value::Null, "{second}");
    let listed: Vec<Value> = first["data"]
        .as_array()
        .into_iter()
        .chain(second["data"].as_array())
        .flatten()
        .map(|r| r["run_id"].clone())
        .collect();
    let newest_first: Vec<Value> = runs.iter().rev().map(|r| json!(r)).collect();
    assert_eq!(listed, newest_first);
    // By start time: all three started in the last hour, none after now (the clock moved a day
    // since, which the runs' start times do not).
    let started = done["run_started_at"]
        .as_str()
        .expect("a start")
        .to_string();
    let (_, since) = s
        .get(&format!(
            "/v1/runs?function_id=features-fulfil&from={started}"
        ))
        .await;
    assert!(
        since["metadata"]["total"].as_u64().is_some_and(|n| n >= 1),
        "{since}"
    );
    let (_, until) = s
        .get(&format!(
            "/v1/runs?function_id=features-fulfil&to={started}"
        ))
        .await;
    assert_eq!(
        since["metadata"]["total"].as_u64().unwrap_or(0)
            + until["metadata"]["total"].as_u64().unwrap_or(0),
        3,
        "[from, to) splits the runs: {since} {until}"
    );
    let (_, future) = s
        .get("/v1/runs?function_id=features-fulfil&from=2100-01-01T00:00:00Z")
        .await;
    assert_eq!(future["metadata"]["total"], 0, "{future}");
    assert_eq!(future["data"], json!([]), "{future}");
    let (_, cancelled) = s
        .get("/v1/runs?function_id=features-fulfil&status=Cancelled")
        .await;
    assert_eq!(cancelled["metadata"]["total"], 2, "{cancelled}");
    // The events list names the run each event started.
    let (_, events) = s.get("/v1/events?name=test/order.placed").await;
    let started: Vec<Value> = events["data"]
        .as_array()
        .expect("events")
        .iter()
        .flat_map(|e| e["runs"].as_array().cloned().unwrap_or_default())
        .map(|r| r["run_id"].clone())
        .collect();
    assert!(started.contains(&json!(runs[1])), "{events}");
    let (_, apps) = s.get("/v1/apps").await;
    assert_eq!(apps["data"][0]["id"], "features");
    assert_eq!(
        apps["data"][0]["functions"].as_array().map(Vec::len),
        Some(6)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_starts_its_failure_handler() {
    let s = Setup::new().await;
    let (_, body) = s
        .post(
            "/e/k",
            json!({ "name": Doom::NAME, "data": { "reason": "no stock" } }),
        )
        .await;
    let event_id = body["ids"][0].as_str().expect("an id").to_string();
    let run = s.run_of(&event_id).await;
    let run_id = run["run_id"].as_str().expect("id").to_string();
    let failed = s.status_of(&run_id, "Failed").await;
    assert_eq!(failed["output"]["message"], "no stock");
    assert_eq!(failed["output"]["name"], "NonRetriableError");

    // The failure handler runs on inngest/function.failed.
    let (_, recent) = s.server.engine().recent().await.expect("running");
    let failed_event = recent
        .iter()
        .find(|e| e["name"] == "inngest/function.failed" && e["data"]["run_id"] == run_id.as_str())
        .expect("a function.failed event")
        .clone();
    assert_eq!(failed_event["data"]["function_id"], "features-doomed");
    let handler_run = s.run_of(failed_event["id"].as_str().expect("id")).await;
    assert_eq!(handler_run["function_id"], "features-doomed-failure");
    let done = s
        .status_of(handler_run["run_id"].as_str().expect("id"), "Completed")
        .await;
    assert_eq!(done["output"], Value::Null, "a failure handler returns ()");
    let reports = FAILURE_REPORTS.lock().expect("not poisoned").clone();
    assert_eq!(
        reports,
        [json!({
            "failed_run": run_id,
            "function_id": "features-doomed",
            "message": "no stock",
            "reason": "no stock",
            "raw_name": Doom::NAME,
        })]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_returns_the_child_output_or_times_out() {
    let s = Setup::new().await;
    // A 5 minute nap answers within the 10 minute timeout; a 60 minute one does not.
    let (_, body) = s
        .post(
            "/e/k",
            json!([{ "name": Nap::NAME, "data": { "minutes": 5 } },
                   { "name": Nap::NAME, "data": { "minutes": 60 } },
                   { "name": Nap::NAME, "data": { "minutes": 5000 } }]),
        )
        .await;
    let ids: Vec<String> = serde_json::from_value(body["ids"].clone()).expect("ids");
    let impatient = |runs: &Value| {
        runs["data"].as_array().and_then(|a| {
            a.iter()
                .find(|r| r["function_id"] == "features-impatient")
                .cloned()
        })
    };
    let mut parents = Vec::new();
    for id in &ids[..2] {
        let mut found = None;
        for _ in 0..300 {
            let (_, runs) = s.get(&format!("/v1/events/{id}/runs")).await;
            if let Some(r) = impatient(&runs) {
                found = Some(r["run_id"].as_str().expect("id").to_string());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        parents.push(found.expect("the trigger expression started a parent run"));
    }
    // The trigger's `when` keeps the 5000 minute event from starting a parent.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, runs) = s.get(&format!("/v1/events/{}/runs", ids[2])).await;
    assert!(impatient(&runs).is_none(), "{runs}");

    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.post("/dev/time/advance", json!({ "duration": "6m" }))
            .await;
    }
    let quick = s.status_of(&parents[0], "Completed").await;
    assert_eq!(quick["output"], json!("child said napped 5m"));
    let slow = s.status_of(&parents[1], "Completed").await;
    assert_eq!(slow["output"], json!("gave up: InngestInvokeTimeoutError"));
}
