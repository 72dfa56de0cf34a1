//! The dashboard in a real browser: headless Chromium driven over WebDriver (`chromedriver`,
//! both from Debian's packages, installed by `.ci/install.sh`), against our dev server and a
//! Rust app served over HTTP. Each flow does what a user does (fills a form, clicks a button)
//! and asserts what the page then shows, without reloading it; axe-core checks each view for
//! WCAG 2 A/AA violations. Screenshots of the views go to `$CARGO_TARGET_TMPDIR/dashboard/`.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use inngest_devserver::DevServer;
use inngest_runtime::step::WaitForEvent;
use inngest_runtime::{App, Context, Event, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// ---- the app the dashboard shows ------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct GreetRequested {
    #[garde(skip)]
    name: String,
}
impl Event for GreetRequested {
    const NAME: &'static str = "demo/greet";
}

/// Two steps and an output.
struct Greet;
impl Workflow for Greet {
    type Event = GreetRequested;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("greet").concurrency(5)
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        let name = ctx.event.data.name.clone();
        let greeting: String = ctx
            .step
            .run("compose", async move { Ok(format!("Hello, {name}")) })
            .await?;
        let g = greeting.clone();
        let _len: usize = ctx.step.run("count", async move { Ok(g.len()) }).await?;
        Ok(greeting)
    }
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct NapRequested {
    #[garde(skip)]
    #[serde(default)]
    note: Option<String>,
}
impl Event for NapRequested {
    const NAME: &'static str = "demo/nap";
}

/// A step, an hour's sleep, a step.
struct Nap;
impl Workflow for Nap {
    type Event = NapRequested;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("nap")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        let _: String = ctx
            .step
            .run("before", async { Ok("awake".to_string()) })
            .await?;
        ctx.step.sleep("nap", "1h").await?;
        ctx.step
            .run("after", async { Ok("rested".to_string()) })
            .await
    }
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct ApproveRequested {
    #[garde(skip)]
    #[serde(default)]
    note: Option<String>,
}
impl Event for ApproveRequested {
    const NAME: &'static str = "demo/approve";
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Approved {
    #[garde(skip)]
    #[serde(default)]
    by: Option<String>,
}
impl Event for Approved {
    const NAME: &'static str = "demo/approved";
}

/// Waits a day for an approval.
struct Approval;
impl Workflow for Approval {
    type Event = ApproveRequested;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("approval")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        let got = ctx
            .step
            .wait_for_event::<Approved>("approval", WaitForEvent::timeout("1d"))
            .await?;
        Ok(if got.is_some() {
            "approved"
        } else {
            "timed out"
        }
        .into())
    }
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct DoomRequested {
    #[garde(skip)]
    #[serde(default)]
    note: Option<String>,
}
impl Event for DoomRequested {
    const NAME: &'static str = "demo/doom";
}

/// A step that fails for good.
struct Doom;
impl Workflow for Doom {
    type Event = DoomRequested;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("doom")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<(), WorkflowError> {
        ctx.step
            .run("explode", async {
                Err::<(), _>(WorkflowError::non_retriable("the fuse was lit"))
            })
            .await
    }
}

// ---- the browser ----------------------------------------------------------------------

/// `chromedriver` on a port it picks itself, and a session of headless Chromium.
struct Browser {
    driver: Child,
    client: Client,
    shots: PathBuf,
}

impl Browser {
    async fn start(width: u32, height: u32) -> Self {
        let mut command = Command::new("chromedriver");
        command.arg("--port=0");
        if let Err(e) = Command::new("chromedriver").arg("--version").output() {
            panic!(
                "chromedriver does not start ({e}): install chromium and chromium-driver (.ci/install.sh)"
            );
        }
        // "ChromeDriver was started successfully on port 37547."
        let (driver, port) = support::spawn_saying_port(command, "chromedriver", |line| {
            let rest = line.split("started successfully on port ").nth(1)?;
            let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
            port.parse().ok()
        });
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--hide-scrollbars", format!("--window-size={width},{height}"),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
        std::fs::create_dir_all(&shots).expect("a screenshot folder");
        Self {
            driver,
            client,
            shots,
        }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        eprintln!("screenshot: {}", path.display());
    }

    /// Waits (15 s at most) until an element matching `css` has text that `want` accepts;
    /// returns that text. On time out, saves a screenshot and says what was there.
    async fn until(&self, css: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            seen.clear();
            if let Ok(found) = self.client.find_all(Locator::Css(css)).await {
                for el in found {
                    if let Ok(text) = el.text().await {
                        if want(&text) {
                            return text;
                        }
                        seen.push(text);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let notice = self.text("#notice").await;
        self.shot("timed-out").await;
        panic!("no {css:?} as wanted within 15 s; saw {seen:?}; notice {notice:?}");
    }

    /// Runs axe-core (the npm package beside the official SDK, `.ci/js-sdk.sh`) on the page
    /// as it is now, for WCAG 2 A and AA; panics with the violations, after a screenshot.
    async fn accessible(&self, view: &str) {
        let dir = std::env::var("INNGEST_JS_APP_DIR").expect(
            "INNGEST_JS_APP_DIR names the JS folder with axe-core: `export INNGEST_JS_APP_DIR=$(bash .ci/js-sdk.sh)`",
        );
        let axe = std::fs::read_to_string(format!("{dir}/node_modules/axe-core/axe.min.js"))
            .expect("axe-core is installed (.ci/js-sdk.sh)");
        self.client
            .execute(&format!("{axe}\n;return typeof window.axe;"), vec![])
            .await
            .expect("axe loads");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } })
                   .then((r) => done(r.violations.map((v) => ({
                     id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))))
                   .catch((e) => done([{ id: 'axe-error', help: String(e) }]));",
                vec![],
            )
            .await
            .expect("axe runs");
        if found.as_array().is_some_and(|v| !v.is_empty()) {
            self.shot(&format!("a11y-{view}")).await;
            panic!("accessibility violations on {view}: {found:#}");
        }
    }

    async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Clicks the element `css` names, finding it again if the page redrew it meanwhile
    /// (live updates replace elements).
    async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let tried = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.click().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match tried {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    self.shot("click-failed").await;
                    panic!("{css:?} does not click: {e}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let el = self
            .client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css:?}: {e}"));
        el.clear().await.expect("cleared");
        el.send_keys(text).await.expect("typed");
    }

    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("a URL")
            .path()
            .to_string()
    }

    async fn stop(self) {
        let Self {
            mut driver, client, ..
        } = self;
        let _ = client.close().await;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

async fn setup() -> (DevServer, support::RustApp) {
    support::server_with_app("dash", |client| {
        App::builder(client)
            .register(Greet)
            .register(Nap)
            .register(Approval)
            .register(Doom)
            .build()
    })
    .await
}

/// The run `event_id` started, once there is one.
async fn run_of(server: &DevServer, event_id: &str) -> String {
    for _ in 0..500 {
        let runs = server
            .engine()
            .event_runs(event_id.to_string())
            .await
            .expect("running");
        if let Some(run) = runs.first() {
            return run.run_id.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("event {event_id} started no run");
}

async fn send(server: &DevServer, name: &str, data: Value) -> String {
    let ids = server
        .send(vec![json!({ "name": name, "data": data })])
        .await
        .expect("accepted");
    run_of(server, &ids[0]).await
}

// ---- the flows ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_runs_live_and_acts_on_them() {
    let (server, _app) = setup().await;
    let base = server.url().to_string();
    let b = Browser::start(1280, 900).await;

    // Runs: an empty list, then a run sent meanwhile appears and completes without a reload.
    b.client.goto(&base).await.expect("the page opens");
    b.until("#run-count", |t| t == "0 runs").await;
    b.until("#live", |t| t == "live").await;
    let first = send(&server, GreetRequested::NAME, json!({ "name": "Ada" })).await;
    let row = format!("#runs tr[data-run=\"{first}\"]");
    let shown = b.until(&row, |t| t.contains("Completed")).await;
    assert!(shown.contains("dash-greet"), "{shown}");
    b.until("#run-count", |t| t == "1 run").await;
    b.accessible("runs").await;

    // Events: the form refuses data that is not a JSON object before sending, shows the
    // server's own validation message, then sends; the event shows the run it started.
    b.click("nav a[data-section=events]").await;
    b.fill("#event-name", "demo/greet").await;
    b.fill("#event-data", "{\"name\": ").await;
    b.until("#event-data-help", |t| t.starts_with("Not valid:"))
        .await;
    b.fill("#event-data", "[1, 2]").await;
    b.until("#event-data-help", |t| {
        t == "Not valid: data must be a JSON object"
    })
    .await;
    b.fill("#event-name", "   ").await;
    b.fill("#event-data", "{\"name\": \"Grace\"}").await;
    b.until("#event-data-help", |t| {
        t == "The event's data, a JSON object."
    })
    .await;
    b.click("#send-event").await;
    let refused = b.until("#notice", |t| !t.is_empty()).await;
    assert!(
        refused.contains("name"),
        "the server says what is wrong: {refused}"
    );
    b.fill("#event-name", "demo/greet").await;
    b.click("#send-event").await;
    let sent = b
        .until("#notice", |t| t.starts_with("Sent demo/greet ("))
        .await;
    let sent_id = sent
        .trim_start_matches("Sent demo/greet (")
        .trim_end_matches(')')
        .to_string();
    let listed = format!("#events li.event[data-event=\"{sent_id}\"]");
    let event = b
        .until(&listed, |t| {
            t.contains("demo/greet") && t.contains("dash-greet") && t.contains("Completed")
        })
        .await;
    assert!(!event.contains("started no run"), "{event}");
    b.shot("events").await;
    b.accessible("events").await;

    // Replay: the event again, as a new one that starts its own run.
    b.click(&format!("{listed} button.replay")).await;
    let replayed = b
        .until("#notice", |t| t.starts_with("Replayed demo/greet as "))
        .await;
    let replay_id = replayed
        .trim_start_matches("Replayed demo/greet as ")
        .to_string();
    assert_ne!(replay_id, sent_id);
    b.until(
        &format!("#events li.event[data-event=\"{replay_id}\"]"),
        |t| t.contains("dash-greet") && t.contains("Completed"),
    )
    .await;

    // Text from outside stays text: an event named like markup shows as written.
    let markup = "<img id=\"injected\" src=x onerror=\"document.title='owned'\">";
    server
        .send(vec![
            json!({ "name": markup, "data": { "html": "<b id=\"bold\">x</b>" } }),
        ])
        .await
        .expect("accepted");
    b.until("#events", |t| t.contains(markup)).await;
    for css in ["#injected", "#bold"] {
        let found = b.client.find_all(Locator::Css(css)).await.expect("a query");
        assert!(found.is_empty(), "{css} became an element");
    }
    assert_ne!(b.client.title().await.expect("a title"), "owned");

    // The name filter: only the server's own `inngest/function.finished` events, then only ours.
    b.until("#events", |t| t.contains("inngest/function.finished"))
        .await;
    b.fill("#filter-event-name", "demo/greet\u{E007}").await;
    let ours = b
        .until("#events", |t| {
            t.contains("demo/greet") && !t.contains("inngest/function.finished")
        })
        .await;
    assert!(
        ours.contains(&replay_id) && ours.contains(&sent_id),
        "{ours}"
    );
    let url = b.client.current_url().await.expect("a URL");
    assert_eq!(
        url.query(),
        Some("name=demo%2Fgreet"),
        "the filter is in the URL"
    );

    // The run of the sent event: each step with its output, the final output, the trigger.
    b.click(&format!("{listed} a.run-link")).await;
    b.until("h1", |t| {
        t.contains("dash-greet") && t.contains("Completed")
    })
    .await;
    // The last step is open; the others open with a click.
    b.until("#spans li.span[data-step=count]", |t| t.contains("12"))
        .await;
    b.click("#spans li.span[data-step=compose] summary").await;
    let compose = b
        .until("#spans li.span[data-step=compose]", |t| {
            t.contains("\"Hello, Grace\"")
        })
        .await;
    assert!(compose.contains("completed"), "{compose}");
    b.until("#output", |t| t.contains("\"Hello, Grace\"")).await;
    b.click("#trigger summary").await;
    b.until("#trigger", |t| t.contains("\"Grace\"")).await;
    b.shot("run").await;
    b.accessible("run").await;

    // A sleeping run: the clock moves from the header, the run completes on screen.
    let napping = send(&server, NapRequested::NAME, json!({})).await;
    b.client
        .goto(&format!("{base}/runs/{napping}"))
        .await
        .expect("opens");
    let sleeping = b
        .until("#spans li.span[data-step=nap]", |t| t.contains("running"))
        .await;
    assert!(sleeping.contains("sleep"), "{sleeping}");
    let clock_before = b.text("#clock-now").await;
    b.shot("run-sleeping").await;
    b.fill("#advance-by", "2h").await;
    b.click("#advance").await;
    b.until("#notice", |t| t == "The clock moved 2h").await;
    b.until("h1", |t| t.contains("Completed")).await;
    b.until("#spans li.span[data-step=after]", |t| {
        t.contains("\"rested\"")
    })
    .await;
    let nap = b
        .until("#spans li.span[data-step=nap]", |t| t.contains("completed"))
        .await;
    assert!(
        nap.contains("2h"),
        "the sleep lasted until the clock moved: {nap}"
    );
    let clock_after = b.text("#clock-now").await;
    assert!(clock_after > clock_before, "{clock_before} → {clock_after}");
    b.shot("run-slept").await;

    // A waiting run: Cancel.
    let waiting = send(&server, ApproveRequested::NAME, json!({})).await;
    b.client
        .goto(&format!("{base}/runs/{waiting}"))
        .await
        .expect("opens");
    let wait = b
        .until("#spans li.span[data-step=approval]", |t| {
            t.contains("running")
        })
        .await;
    assert!(wait.contains("demo/approved until"), "{wait}");
    b.click("#cancel").await;
    b.until("h1", |t| t.contains("Cancelled")).await;
    // The wait never matched: the cancel cut it off.
    let cut = b
        .until("#spans li.span[data-step=approval]", |t| {
            t.contains("cut off")
        })
        .await;
    assert!(
        !cut.contains("until"),
        "it waits for nothing any more: {cut}"
    );
    let run = server.run(&waiting).await.expect("running").expect("a run");
    assert_eq!(run.status, inngest_devserver::RunStatus::Cancelled);

    // A failed run: its error, then Rerun starts a new run of the function.
    let doomed = send(&server, DoomRequested::NAME, json!({})).await;
    b.client
        .goto(&format!("{base}/runs/{doomed}"))
        .await
        .expect("opens");
    b.until("h1", |t| t.contains("Failed")).await;
    b.until("#spans li.span[data-step=explode]", |t| {
        t.contains("the fuse was lit")
    })
    .await;
    b.until("#output", |t| t.contains("the fuse was lit")).await;
    b.shot("run-failed").await;
    b.accessible("run-failed").await;
    b.click("#rerun").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let rerun = loop {
        let path = b.path().await;
        if path != format!("/runs/{doomed}") {
            break path.trim_start_matches("/runs/").to_string();
        }
        assert!(Instant::now() < deadline, "Rerun opened no new run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    b.until("#run-id", |t| t == rerun).await;
    b.until("h1", |t| t.contains("dash-doom") && t.contains("Failed"))
        .await;
    let again = server.run(&rerun).await.expect("running").expect("a run");
    assert_eq!(again.function_id, "dash-doom");
    assert_eq!(
        again.event_id,
        server
            .run(&doomed)
            .await
            .expect("running")
            .expect("a run")
            .event_id,
        "the rerun has the same trigger"
    );

    // Functions: Invoke with JSON data opens the new run.
    b.click("nav a[data-section=functions]").await;
    let card = "article[data-function=dash-greet]";
    let shown = b.until(card, |t| t.contains("event:demo/greet")).await;
    b.accessible("functions").await;
    assert!(
        shown.contains("concurrency"),
        "the options are listed: {shown}"
    );
    b.fill(&format!("{card} textarea"), "{\"name\": \"Linus\"}")
        .await;
    b.click(&format!("{card} button.invoke")).await;
    b.until("#output", |t| t.contains("\"Hello, Linus\"")).await;
    b.until("#trigger", |t| t.contains("inngest/function.invoked"))
        .await;

    // Apps: Resync records a new sync; adding an app that does not answer shows why.
    b.click("nav a[data-section=apps]").await;
    let app = b
        .until("article[data-app=dash]", |t| t.contains("serve (http)"))
        .await;
    assert!(app.contains("rust:v"), "the SDK it reported: {app}");
    let last = b
        .until("article[data-app=dash] .last-sync", |t| t.ends_with(" ok"))
        .await;
    // The clock moved 2 h since the first sync: a resync shows a later time.
    b.click("article[data-app=dash] button.resync").await;
    b.until("#notice", |t| t == "Resynced dash").await;
    b.until("article[data-app=dash] .last-sync", |t| {
        t.ends_with(" ok") && t != last
    })
    .await;
    b.fill("#app-url", "http://127.0.0.1:9/api/inngest").await;
    b.click("#add-app").await;
    let failed = b.until("#notice", |t| t.contains("could not reach")).await;
    assert!(failed.contains("127.0.0.1:9"), "{failed}");
    b.until("#apps article.unsynced", |t| {
        t.contains("http://127.0.0.1:9/api/inngest") && t.contains("failed: could not reach")
    })
    .await;
    b.shot("apps").await;
    b.accessible("apps").await;

    // The runs list filters by status and by function, and links to each run.
    b.click("nav a[data-section=runs]").await;
    b.until("#run-count", |t| t == "8 runs").await;
    b.shot("runs").await;
    b.client
        .find(Locator::Css("#filter-status"))
        .await
        .expect("a status filter")
        .select_by_value("Failed")
        .await
        .expect("selected");
    b.until("#run-count", |t| t == "2 runs").await;
    let rows = b
        .client
        .find_all(Locator::Css("#runs tr.run"))
        .await
        .expect("rows");
    for row in rows {
        let text = row.text().await.expect("text");
        assert!(
            text.contains("dash-doom") && text.contains("Failed"),
            "{text}"
        );
    }
    assert!(b.path().await == "/", "filters stay on the runs view");
    let url = b.client.current_url().await.expect("a URL");
    assert_eq!(
        url.query(),
        Some("status=Failed"),
        "the filter is in the URL"
    );

    b.stop().await;
    server.stop().await;
}

/// The same page at a narrow width and in the dark theme, with the layout checked: nothing
/// wider than the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_fits_a_narrow_window_and_has_a_dark_theme() {
    let (server, _app) = setup().await;
    let base = server.url().to_string();
    let napping = send(&server, NapRequested::NAME, json!({})).await;
    let b = Browser::start(420, 900).await;
    b.client
        .goto(&format!("{base}/runs/{napping}"))
        .await
        .expect("opens");
    b.until("#spans li.span[data-step=nap]", |t| t.contains("running"))
        .await;
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .expect("a width");
    assert!(
        overflow.as_i64().is_some_and(|px| px <= 0),
        "the page is wider than the window by {overflow}px"
    );
    // System → light → dark.
    b.click("#theme").await;
    b.click("#theme").await;
    let theme = b
        .client
        .execute(
            "return [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor];",
            vec![],
        )
        .await
        .expect("the theme");
    assert_eq!(theme[0], "dark", "{theme}");
    assert_eq!(theme[1], "rgb(17, 19, 23)", "the dark background: {theme}");
    b.shot("run-narrow-dark").await;
    b.accessible("run-narrow-dark").await;
    b.stop().await;
    server.stop().await;
}
