//! Inngest's own conformance cases, as data both sides are checked against.
//!
//! Each [`Case`] encodes one upstream test (`inngest/inngest` at commit `253303cd`): the
//! function it syncs, the events it sends, and every exchange between the server and the SDK,
//! request by request (`stepId`, the event, `ctx`, the memo) with the SDK's answer. The same
//! case checks
//!
//! - the dev server (`server_side`): a [`scripted_sdk::ScriptedSdk`] plays the fixture's side,
//!   answering as the official fixture does, and every request the server sends is compared
//!   with the case's;
//! - our runtime (`sdk_side`): the fixture's functions are written with `inngest-runtime`,
//!   every request of the case is sent to them, and their answers are compared with the case's
//!   (`expectGeneratorResponse`).
//!
//! The comparison follows the conformance runner (`pkg/conformance/runner/serve/runner.go`):
//! ids and timestamps are not compared, nor `max_attempts`; `error.stack` is dropped from the
//! memo; an answer's ops are compared without `timing`, `userland` and `displayName`, a sleep
//! by its duration, an error by its message.
//!
//! Time: where the upstream test waits on a real clock for a sleep, a backoff or a timeout, the
//! case first checks that nothing is sent early ([`Step::Quiet`]), then moves the server's
//! clock ([`Step::Advance`]). Where the upstream test asserts a real-time bound (a retry within
//! seconds after `Retry-After`), the case keeps it real ([`Step::Within`]).

pub mod cases;
pub mod scripted_sdk;

use std::time::Duration;

use inngest_devserver::RunStatus;
use scripted_sdk::Answer;
use serde_json::{Map, Value, json};

/// One upstream test.
pub struct Case {
    /// A short name, `<harness>/<case>`.
    pub id: &'static str,
    /// Where upstream defines it.
    pub source: &'static str,
    /// The app id the functions are synced under.
    pub app: &'static str,
    /// The functions: `{id, triggers, retries?, cancel?, concurrency?}` (ids without the app).
    pub functions: Vec<Value>,
    /// What happens, in order.
    pub script: Vec<Step>,
    /// How the run of the case's first request ends, when the case says.
    pub outcome: Option<Outcome>,
}

/// One thing a case does or expects.
pub enum Step {
    /// Send an event.
    Send(Value),
    /// The server sends this request within the time given, and the SDK answers.
    Exchange(Box<Exchange>),
    /// The server sends these requests at once (the calls of a parallel group), in any order;
    /// all are received before any is answered, then they are answered in this order.
    Group(Vec<Exchange>),
    /// Nothing reaches the SDK for this long (real time).
    Quiet(Duration),
    /// Move the server's clock.
    Advance(Duration),
    /// Wait this long in real time.
    Sleep(Duration),
    /// Cancel the run through `DELETE /v1/runs/{id}`.
    CancelViaApi,
}

/// A request and its answer.
pub struct Exchange {
    /// What the request must be.
    pub expect: Expect,
    /// What the fixture answers.
    pub answer: Answer,
    /// How long the server may take to send it (real time).
    pub within: Duration,
}

/// An expected execution request.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The function (id without the app).
    pub function: &'static str,
    /// `stepId`.
    pub step_id: String,
    /// The trigger event (`name`, `data`, `user`).
    pub event: Value,
    /// `ctx.attempt`.
    pub attempt: u32,
    /// `ctx.stack.stack`.
    pub stack: Vec<String>,
    /// `ctx.stack.current`.
    pub current: usize,
    /// `ctx.disable_immediate_execution`.
    pub disable_immediate_execution: bool,
    /// The memo, without error stacks.
    pub steps: Value,
    /// The stack's order is not compared (the completion order of a parallel group).
    pub unordered_stack: bool,
    /// Only the event's name and the `data` keys given are compared (a server-made event).
    pub partial_event: bool,
}

/// How a run ends.
pub struct Outcome {
    pub status: RunStatus,
    /// The run's output, when the case says.
    pub output: Option<Value>,
    /// A text the output must contain, when the case says only that.
    pub output_contains: Option<&'static str>,
}

impl Outcome {
    /// Ends with this status and output.
    pub fn is(status: RunStatus, output: Value) -> Option<Self> {
        Some(Self {
            status,
            output: Some(output),
            output_contains: None,
        })
    }

    /// Ends with this status.
    pub fn status(status: RunStatus) -> Option<Self> {
        Some(Self {
            status,
            output: None,
            output_contains: None,
        })
    }
}

/// Builds an [`Expect`] with the defaults of a first call: `stepId=step`, attempt 0, empty
/// stack and memo, immediate execution allowed.
pub fn request(function: &'static str, event: &Value) -> Expect {
    Expect {
        function,
        step_id: "step".into(),
        event: event.clone(),
        attempt: 0,
        stack: Vec::new(),
        current: 0,
        disable_immediate_execution: false,
        steps: json!({}),
        unordered_stack: false,
        partial_event: false,
    }
}

impl Expect {
    /// `ctx.attempt`.
    pub fn attempt(mut self, n: u32) -> Self {
        self.attempt = n;
        self
    }

    /// The stack, with `current` its length (a serial run).
    pub fn stack(mut self, ids: &[&str]) -> Self {
        self.stack = ids.iter().map(|s| s.to_string()).collect();
        self.current = ids.len();
        self
    }

    /// `ctx.stack.current`, when it is not the stack's length.
    pub fn current(mut self, n: usize) -> Self {
        self.current = n;
        self
    }

    /// The memo.
    pub fn steps(mut self, steps: Value) -> Self {
        self.steps = steps;
        self
    }

    /// A targeted call of a planned step.
    pub fn target(mut self, hashed: &str) -> Self {
        self.step_id = hashed.to_string();
        self
    }

    /// `disable_immediate_execution: true`.
    pub fn planning(mut self) -> Self {
        self.disable_immediate_execution = true;
        self
    }

    /// The stack in any order.
    pub fn unordered(mut self) -> Self {
        self.unordered_stack = true;
        self
    }

    /// Only the event's name and the given `data` keys are compared.
    pub fn partial_event(mut self) -> Self {
        self.partial_event = true;
        self
    }

    /// The exchange of this request with `answer`, sent within `within`.
    pub fn answer(self, answer: Answer, within: Duration) -> Step {
        Step::Exchange(Box::new(self.exchange(answer, within)))
    }

    /// The exchange, for a [`Step::Group`].
    pub fn exchange(self, answer: Answer, within: Duration) -> Exchange {
        Exchange {
            expect: self,
            answer,
            within,
        }
    }
}

/// An event as the runner compares it: `name`, `data` and `user` (absent or null as `{}`), `v`.
/// `data._inngest` (what the server adds to an `inngest/function.invoked` event, with run ids
/// in it) is left out.
fn event_view(event: &Value) -> Value {
    let object = |key: &str| match event.get(key) {
        Some(Value::Object(o)) => {
            let mut o = o.clone();
            o.remove("_inngest");
            Value::Object(o)
        }
        _ => json!({}),
    };
    json!({
        "name": event["name"],
        "data": object("data"),
        "user": object("user"),
        "v": event.get("v").cloned().unwrap_or_else(|| json!("")),
    })
}

/// The memo without `stack` in error objects (the runner deletes it before comparing).
fn without_error_stacks(steps: &Value) -> Value {
    let mut steps = steps.clone();
    if let Value::Object(m) = &mut steps {
        for memo in m.values_mut() {
            if let Some(Value::Object(e)) = memo.get_mut("error") {
                e.remove("stack");
            }
        }
    }
    steps
}

/// What a request is compared on, as the conformance runner compares it, shaped by what the
/// expectation leaves open (see [`Expect::unordered`], [`Expect::partial_event`]).
pub fn request_view(step_id: &str, body: &Value, expect: &Expect) -> Value {
    let ctx = &body["ctx"];
    let mut stack = ctx["stack"].clone();
    if expect.unordered_stack {
        if let Some(Value::Array(ids)) = stack.get_mut("stack") {
            ids.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    let mut event = event_view(&body["event"]);
    if expect.partial_event {
        let wanted = event_view(&expect.event);
        let keys: Vec<String> = wanted["data"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(Value::Object(data)) = event.get_mut("data") {
            data.retain(|k, _| keys.contains(k));
        }
        event["user"] = wanted["user"].clone();
    }
    json!({
        "stepId": step_id,
        "event": event,
        "ctx": {
            "env": ctx.get("env").cloned().unwrap_or_else(|| json!("")),
            "step_id": ctx["step_id"],
            "attempt": ctx["attempt"],
            "stack": stack,
            "disable_immediate_execution": ctx["disable_immediate_execution"],
            "use_api": ctx["use_api"],
        },
        "steps": without_error_stacks(&body["steps"]),
    })
}

impl Expect {
    /// The view of [`request_view`] this request must have.
    pub fn view(&self) -> Value {
        let mut stack = self.stack.clone();
        if self.unordered_stack {
            stack.sort();
        }
        json!({
            "stepId": self.step_id,
            "event": event_view(&self.event),
            "ctx": {
                "env": "",
                "step_id": "step",
                "attempt": self.attempt,
                "stack": { "stack": stack, "current": self.current },
                "disable_immediate_execution": self.disable_immediate_execution,
                "use_api": false,
            },
            "steps": without_error_stacks(&self.steps),
        })
    }
}

/// An answer as the runner compares it (`normalizeGeneratorOpcodes`, `expectJSONResponse`):
/// the status, and for 206 the ops without `timing`, `userland`, `metadata`, `displayName`, a
/// sleep's duration as its name, an error by its `message`; for other answers the JSON body,
/// an error by its `message` and `name` (absent, `""` or `Error` alike).
///
/// Leniencies, each because two SDK generations say the same thing two ways: `opts: {}` and
/// `error: null` count as absent, `data` is compared as JSON, not byte for byte; and a
/// `StepError` answered with `X-Inngest-No-Retry: true` (the JS SDK 3.x of the legacy fixture)
/// counts as the `StepFailed` the JS SDK 4.x sends, since the server treats both alike (the
/// step fails now), with the failed op's `data` left out; and a wait named by its step id with
/// the event in `opts.event` (Go) counts as one named by its event (JS).
pub fn answer_view(status: u16, no_retry: bool, body: &Value) -> Value {
    let body = match (status, body) {
        (206, Value::Array(ops)) => {
            Value::Array(ops.iter().map(|op| op_view(op, no_retry)).collect())
        }
        (200, body) => body.clone(),
        (_, Value::Object(e)) => {
            let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
            json!({
                "name": if name.is_empty() { "Error" } else { name },
                "message": e.get("message"),
            })
        }
        (_, other) => other.clone(),
    };
    json!({ "status": status, "body": body })
}

fn op_view(op: &Value, no_retry: bool) -> Value {
    let Value::Object(o) = op else {
        return op.clone();
    };
    let mut o: Map<String, Value> = o.clone();
    for key in ["timing", "userland", "metadata", "displayName"] {
        o.remove(key);
    }
    for key in ["opts", "error", "data"] {
        let empty = match o.get(key) {
            Some(Value::Null) => true,
            Some(Value::Object(m)) => key == "opts" && m.is_empty(),
            _ => false,
        };
        if empty {
            o.remove(key);
        }
    }
    let duration = o
        .get("opts")
        .and_then(|opts| opts.get("duration"))
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    if o.get("op").and_then(Value::as_str) == Some("Sleep") {
        if let Some(d) = duration {
            o.insert("name".into(), json!(d));
            o.remove("opts");
        }
    }
    // The Go SDK names a wait by its step id and the event in `opts.event`; the JS SDK names
    // it by the event. The server reads either (`opts.event`, else `name`).
    if o.get("op").and_then(Value::as_str) == Some("WaitForEvent") {
        let event = o
            .get_mut("opts")
            .and_then(Value::as_object_mut)
            .and_then(|opts| opts.remove("event"));
        if let Some(event) = event {
            o.insert("name".into(), event);
        }
    }
    if no_retry && o.get("op").and_then(Value::as_str) == Some("StepError") {
        o.insert("op".into(), json!("StepFailed"));
    }
    if o.get("op").and_then(Value::as_str) == Some("StepFailed") {
        o.remove("data");
    }
    if let Some(Value::Object(e)) = o.get("error") {
        let mut kept = Map::new();
        if let Some(m) = e.get("message") {
            kept.insert("message".into(), m.clone());
        }
        o.insert("error".into(), Value::Object(kept));
    }
    Value::Object(o)
}

/// `hex(sha1(id))` of the upstream tests' step ids, as their tables list them.
pub mod hash {
    pub const FIRST_STEP: &str = "98bf98df193bcce7c33e6bc50927cf2ac21206cb";
    pub const SLEEP: &str = "c3ca5f787365eae0dea86250e27d476406956478";
    pub const SECOND_STEP: &str = "764e20ec975d4ef820d0f42e6a5833384bd7ee36";
    pub const FOR_2S: &str = "dd44d5dc73e81cfbd3c93d03c50160b0b8dc3d6a";
    pub const WAIT: &str = "daaad336276d15594d0e765f96c17cd746bf4971";
    pub const TEST_RESUME: &str = "0b497c04bd704c3deceb0a004f6268167025dba2";
    pub const AFTER_THE_SLEEP: &str = "dcd448548befa33b66c7a4927d1eac75f6d18107";
    pub const FAILS: &str = "e0b1689f2492d5794774ad7a97598f3bbfe4bb1a";
    pub const SUCCEEDS: &str = "05b3af9cf66cd134406729fc55a133984dc819ab";
    pub const LOG_INPUT: &str = "a13f535c5d867fecbb42bfa24dc13bef2f91c10e";
    pub const A: &str = "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8";
    pub const INVOKE: &str = "d6aa1f3a789f3f3108666e0ac807ca5ca7dc5fa5";
    pub const SLEEP_STEP: &str = SLEEP;
    pub const A1: &str = "f29bc91bbdab169fc0c0a326965953d11c7dff83";
    pub const A2: &str = "b9f85daa6f83cf02ce5c31913d1f64d3f5c8fade";
    pub const A3: &str = "252bc06763afb3b6c2a0802f7346700ab55f46f5";
    pub const BETWEEN: &str = "709634051471385aada32356842983beeff4b065";
    pub const B1: &str = "7e83ca2a65d6f90a809c8570c6c905a941b87732";
    pub const B2: &str = "32f28ea03b1b20126629d2ca63fc6665b0bbb604";
    pub const AFTER: &str = "405906c9d5be6ae5393ca65fb0e7c38e0d585ecb";
    pub const STEP_A: &str = "1419522417cff8c6ddd205cc9882d16411490c09";
    pub const STEP_B: &str = "fe0ff3a9f16e8030660e5c6c446c04439143a0d1";
}

/// A second.
pub const SEC: Duration = Duration::from_secs(1);
/// How long a request may take where the upstream test allows a second or five: a slow CI
/// machine gets some room, a server that waits for a timer does not.
pub const SOON: Duration = Duration::from_secs(5);
/// How long a case checks that nothing is sent before it moves the clock.
pub const QUIET: Duration = Duration::from_millis(300);
