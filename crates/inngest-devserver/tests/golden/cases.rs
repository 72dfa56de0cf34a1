//! The cases, one function each, named and ordered as upstream has them:
//!
//! - `runner`: the conformance runner (`pkg/conformance/runner/serve/runner.go`), Go SDK
//!   fixture `tests/conformance/golang/main.go`, app `conformance-golang`;
//! - `sdk`: the SDK-less proxy tests (`tests/sdk_*_test.go`), JS fixture `tests/js`, app
//!   `test-suite`; the answers are that fixture's, byte for byte as the tests list them;
//! - `golang`: the Go-SDK tests under `tests/golang/`, app `golang`; the answers are what the
//!   Go SDK 0.15.1 sends there.

use std::time::Duration;

use inngest_devserver::RunStatus;
use serde_json::{Value, json};

use super::hash::*;
use super::scripted_sdk::Answer;
use super::{Case, Outcome, QUIET, SEC, SOON, Step, request};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `Retry-After` as the Go SDK sends it for `RetryAtError(…, now)`.
fn retry_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A `StepRun` op as the Go SDK sends it.
fn go_run(id: &str, name: &str, data: Value) -> Value {
    json!({ "op": "StepRun", "id": id, "name": name, "opts": null, "data": data, "error": null,
            "displayName": null, "timing": { "a": 0, "b": 0 }, "userland": { "id": name } })
}

/// A `Sleep` op as the Go SDK sends it.
fn go_sleep(id: &str, name: &str, duration: &str) -> Value {
    json!({ "op": "Sleep", "id": id, "name": name, "opts": { "duration": duration },
            "data": null, "userland": { "id": name } })
}

/// A `StepPlanned` op as the Go SDK sends it.
fn go_planned(id: &str, name: &str) -> Value {
    json!({ "op": "StepPlanned", "id": id, "name": name, "opts": null, "userland": { "id": name } })
}

/// A `StepError` / `StepFailed` op as the Go SDK sends it.
fn go_error(op: &str, id: &str, name: &str, error: Value) -> Value {
    json!({ "op": op, "id": id, "name": name, "error": error, "data": null,
            "userland": { "id": name } })
}

fn function(id: &str, event: &str) -> Value {
    json!({ "id": id, "triggers": [{ "event": event }] })
}

fn runner_functions() -> Vec<Value> {
    vec![
        function("test-suite-simple-fn", "tests/function.test"),
        function("test-suite-step-test", "tests/step.test"),
        function("test-suite-retry-test", "tests/retry.test"),
        json!({ "id": "test-suite-cancel-test", "triggers": [{ "event": "tests/cancel.test" }],
                "cancel": [{ "event": "cancel/please",
                             "if": "async.data.request_id == event.data.request_id" }] }),
        function("test-suite-wait-for-event", "tests/wait.test"),
    ]
}

fn legacy_functions() -> Vec<Value> {
    vec![
        function("simple-fn", "tests/function.test"),
        function("step-test", "tests/step.test"),
        function("retry-test", "tests/retry.test"),
        function("no-retry", "tests/no-retry.test"),
        json!({ "id": "cancel-test", "triggers": [{ "event": "tests/cancel.test" }], "retries": 10,
                "cancel": [{ "event": "cancel/please", "timeout": "1h",
                             "if": "async.data.request_id == event.data.request_id" }] }),
        function("wait-for-event", "tests/wait.test"),
    ]
}

/// `basic-invoke` (runner.go:930).
pub fn runner_basic_invoke() -> Case {
    let event = json!({ "name": "tests/function.test", "data": { "test": true } });
    let f = "test-suite-simple-fn";
    Case {
        id: "runner/basic-invoke",
        source: "pkg/conformance/runner/serve/runner.go:930",
        app: "conformance-golang",
        functions: runner_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::done(json!({ "name": "tests/function.test", "body": "ok" })),
                SOON,
            ),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "name": "tests/function.test", "body": "ok" }),
        ),
    }
}

/// `steps-serial` (runner.go:952): a step, a 2 s sleep, a step; `current` counts the steps.
pub fn runner_steps_serial() -> Case {
    let event = json!({ "name": "tests/step.test", "data": { "steps": { "ok": "yes" } },
                        "user": { "email": "test@example.com" } });
    let f = "test-suite-step-test";
    let second = json!({ "first": "first step", "second": true });
    Case {
        id: "runner/steps-serial",
        source: "pkg/conformance/runner/serve/runner.go:952",
        app: "conformance-golang",
        functions: runner_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::ops(json!([go_run(
                    FIRST_STEP,
                    "first step",
                    json!("first step")
                )])),
                SOON,
            ),
            request(f, &event)
                .stack(&[FIRST_STEP])
                .steps(json!({ FIRST_STEP: { "data": "first step" } }))
                .answer(Answer::ops(json!([go_sleep(SLEEP, "sleep", "2s")])), SOON),
            Step::Quiet(QUIET),
            Step::Advance(2 * SEC),
            request(f, &event)
                .stack(&[FIRST_STEP, SLEEP])
                .steps(json!({ FIRST_STEP: { "data": "first step" }, SLEEP: null }))
                .answer(
                    Answer::ops(json!([go_run(SECOND_STEP, "second step", second.clone())])),
                    SOON,
                ),
            request(f, &event)
                .stack(&[FIRST_STEP, SLEEP, SECOND_STEP])
                .steps(json!({ FIRST_STEP: { "data": "first step" }, SLEEP: null,
                               SECOND_STEP: { "data": second } }))
                .answer(
                    Answer::done(json!({ "body": "ok", "name": "tests/step.test" })),
                    SOON,
                ),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "body": "ok", "name": "tests/step.test" }),
        ),
    }
}

/// `retry-basic` (runner.go:1043): a step error retried, then a function error retried, each
/// within 45 s (the first backoff, 15 s plus up to 30 s of jitter).
pub fn runner_retry_basic() -> Case {
    let event = json!({ "name": "tests/retry.test", "data": { "steps": { "ok": "yes" } },
                        "user": { "email": "test@example.com" } });
    let f = "test-suite-retry-test";
    let broken = json!({ "name": "Step error", "message": "broken", "data": "" });
    Case {
        id: "runner/retry-basic",
        source: "pkg/conformance/runner/serve/runner.go:1043",
        app: "conformance-golang",
        functions: runner_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::ops(json!([go_error(
                    "StepError",
                    FIRST_STEP,
                    "first step",
                    broken
                )])),
                SOON,
            ),
            Step::Quiet(QUIET),
            Step::Advance(Duration::from_secs(45)),
            request(f, &event).attempt(1).answer(
                Answer::ops(json!([go_run(FIRST_STEP, "first step", json!("yes: 2"))])),
                SOON,
            ),
            request(f, &event)
                .stack(&[FIRST_STEP])
                .steps(json!({ FIRST_STEP: { "data": "yes: 2" } }))
                .answer(
                    Answer::error(500, json!({ "message": "broken func" })),
                    SOON,
                ),
            Step::Quiet(QUIET),
            Step::Advance(Duration::from_secs(45)),
            request(f, &event)
                .attempt(1)
                .stack(&[FIRST_STEP])
                .steps(json!({ FIRST_STEP: { "data": "yes: 2" } }))
                .answer(
                    Answer::done(json!({ "body": "ok", "name": "tests/retry.test" })),
                    SOON,
                ),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "body": "ok", "name": "tests/retry.test" }),
        ),
    }
}

/// `cancel-basic` (runner.go:1131): a matching `cancelOn` event during a 10 s sleep; nothing
/// reaches the SDK again.
pub fn runner_cancel_basic() -> Case {
    let event = json!({ "name": "tests/cancel.test",
                        "data": { "request_id": "123", "whatever": "this doesn't matter my friend" } });
    let f = "test-suite-cancel-test";
    Case {
        id: "runner/cancel-basic",
        source: "pkg/conformance/runner/serve/runner.go:1131",
        app: "conformance-golang",
        functions: runner_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(Answer::ops(json!([go_sleep(SLEEP, "sleep", "10s")])), SOON),
            Step::Advance(SEC),
            Step::Send(json!({ "name": "cancel/please", "data": { "request_id": "123" } })),
            Step::Advance(Duration::from_secs(11)),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::status(RunStatus::Cancelled),
    }
}

/// `wait-for-event-basic` (runner.go:1179): a non-matching event does not resume the wait; the
/// matching one does, and the memo is the event as the server maps it (`user: {}` added).
pub fn runner_wait_for_event_basic() -> Case {
    let event = json!({ "name": "tests/wait.test", "data": { "id": "123" } });
    let f = "test-suite-wait-for-event";
    let ts = now_ms();
    let cond = "async.data.resume == true && async.data.id == event.data.id";
    let wait = json!({ "op": "WaitForEvent", "id": WAIT, "name": "wait", "data": null,
                       "opts": { "event": "test/resume", "if": cond, "timeout": "10s" },
                       "userland": { "id": "wait" } });
    let resume = json!({ "id": "resume", "name": "test/resume",
                         "data": { "id": "123", "resume": true }, "ts": ts });
    Case {
        id: "runner/wait-for-event-basic",
        source: "pkg/conformance/runner/serve/runner.go:1179",
        app: "conformance-golang",
        functions: runner_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(Answer::ops(json!([wait])), SOON),
            Step::Send(json!({ "name": "test/resume", "data": { "id": "ignored" } })),
            Step::Quiet(QUIET),
            Step::Send(resume),
            request(f, &event)
                .stack(&[WAIT])
                .steps(json!({ WAIT: { "id": "resume", "name": "test/resume",
                                       "data": { "id": "123", "resume": true },
                                       "user": {}, "ts": ts } }))
                .answer(
                    Answer::done(json!({ "result": { "id": "123", "resume": true } })),
                    SOON,
                ),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "result": { "id": "123", "resume": true } }),
        ),
    }
}

/// `TestSDKFunctions` (tests/sdk_function_test.go:10).
pub fn sdk_functions() -> Case {
    let event = json!({ "name": "tests/function.test", "data": { "test": true }, "user": {} });
    Case {
        id: "sdk/functions",
        source: "tests/sdk_function_test.go:10",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request("simple-fn", &event).answer(
                Answer::done(json!({ "name": "tests/function.test", "body": "ok" })),
                SOON,
            ),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "name": "tests/function.test", "body": "ok" }),
        ),
    }
}

/// `TestSDKSteps` (tests/sdk_step_test.go:14): the JS sleep op has no `opts`; its length is
/// its name.
pub fn sdk_steps() -> Case {
    let event = json!({ "name": "tests/step.test", "data": { "steps": { "ok": "yes" } },
                        "user": { "email": "test@example.com" } });
    let f = "step-test";
    let second = json!({ "first": "first step", "second": true });
    Case {
        id: "sdk/steps",
        source: "tests/sdk_step_test.go:14",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::ops(
                    json!([{ "op": "StepRun", "id": FIRST_STEP, "name": "first step",
                                     "displayName": "first step", "data": "first step" }]),
                ),
                SOON,
            ),
            request(f, &event)
                .stack(&[FIRST_STEP])
                .steps(json!({ FIRST_STEP: { "data": "first step" } }))
                .answer(
                    Answer::ops(json!([{ "op": "Sleep", "id": FOR_2S, "name": "2s",
                                         "displayName": "for 2s", "data": null }])),
                    SOON,
                ),
            Step::Quiet(QUIET),
            Step::Advance(2 * SEC),
            request(f, &event)
                .stack(&[FIRST_STEP, FOR_2S])
                .steps(json!({ FIRST_STEP: { "data": "first step" }, FOR_2S: null }))
                .answer(
                    Answer::ops(json!([{ "op": "StepRun", "id": SECOND_STEP,
                                         "name": "second step", "displayName": "second step",
                                         "data": second }])),
                    SOON,
                ),
            request(f, &event)
                .stack(&[FIRST_STEP, FOR_2S, SECOND_STEP])
                .steps(json!({ FIRST_STEP: { "data": "first step" }, FOR_2S: null,
                               SECOND_STEP: { "data": second } }))
                .answer(
                    Answer::done(json!({ "body": "ok", "name": "tests/step.test" })),
                    SOON,
                ),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "body": "ok", "name": "tests/step.test" }),
        ),
    }
}

/// `TestSDKRetry` (tests/sdk_retry_test.go:15).
pub fn sdk_retry() -> Case {
    let event = json!({ "name": "tests/retry.test", "data": { "steps": { "ok": "yes" } },
                        "user": { "email": "test@example.com" } });
    let f = "retry-test";
    Case {
        id: "sdk/retry",
        source: "tests/sdk_retry_test.go:15",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::ops(
                    json!([{ "op": "StepError", "id": FIRST_STEP, "name": "first step",
                                     "displayName": "first step",
                                     "error": { "name": "Error", "message": "broken" },
                                     "data": null }]),
                ),
                SOON,
            ),
            Step::Quiet(QUIET),
            Step::Advance(Duration::from_secs(45)),
            request(f, &event).attempt(1).answer(
                Answer::ops(
                    json!([{ "op": "StepRun", "id": FIRST_STEP, "name": "first step",
                                     "displayName": "first step", "data": "yes: 2" }]),
                ),
                SOON,
            ),
            request(f, &event)
                .stack(&[FIRST_STEP])
                .steps(json!({ FIRST_STEP: { "data": "yes: 2" } }))
                .answer(
                    Answer::error(500, json!({ "name": "Error", "message": "broken func" })),
                    SOON,
                ),
            Step::Quiet(QUIET),
            Step::Advance(Duration::from_secs(45)),
            request(f, &event)
                .attempt(1)
                .stack(&[FIRST_STEP])
                .steps(json!({ FIRST_STEP: { "data": "yes: 2" } }))
                .answer(
                    Answer::done(json!({ "body": "ok", "name": "tests/retry.test" })),
                    SOON,
                ),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "body": "ok", "name": "tests/retry.test" }),
        ),
    }
}

/// `TestSDKNoRetry` (tests/sdk_no_retry_test.go:13): a `StepError` answered with
/// `X-Inngest-No-Retry: true` fails its step at once; the next call, attempt 0, carries the
/// error with `noRetry`.
pub fn sdk_no_retry() -> Case {
    let event = json!({ "name": "tests/no-retry.test", "data": { "hi": true }, "user": {} });
    let f = "no-retry";
    Case {
        id: "sdk/no-retry",
        source: "tests/sdk_no_retry_test.go:13",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::ops(
                    json!([{ "op": "StepError", "id": FIRST_STEP, "name": "first step",
                                     "displayName": "first step",
                                     "error": { "name": "NonRetriableError",
                                                "message": "no retry plz",
                                                "stack": "NonRetriableError: no retry plz" },
                                     "data": null }]),
                )
                .no_retry(),
                SOON,
            ),
            request(f, &event)
                .stack(&[FIRST_STEP])
                .steps(json!({ FIRST_STEP: { "error": { "message": "no retry plz",
                                                        "name": "NonRetriableError",
                                                        "noRetry": true } } }))
                .answer(Answer::done(json!("ok")), SOON),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(RunStatus::Completed, json!("ok")),
    }
}

fn cancel_event(extra: bool) -> Value {
    if extra {
        json!({ "name": "tests/cancel.test",
                "data": { "request_id": "123", "whatever": "this doesn't matter my friend" },
                "user": {} })
    } else {
        json!({ "name": "tests/cancel.test", "data": { "request_id": "123" }, "user": {} })
    }
}

fn js_sleep_10s() -> Answer {
    Answer::ops(
        json!([{ "op": "Sleep", "id": SLEEP, "name": "10s", "displayName": "sleep",
                         "data": null }]),
    )
}

/// `TestSDKCancelNotReceived` (tests/sdk_cancel_test.go:14): a `cancelOn` event whose `if`
/// does not hold changes nothing.
pub fn sdk_cancel_not_received() -> Case {
    let event = cancel_event(false);
    let f = "cancel-test";
    let text = "This should be cancelled if a matching cancel event is received";
    Case {
        id: "sdk/cancel-not-received",
        source: "tests/sdk_cancel_test.go:14",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(js_sleep_10s(), SOON),
            Step::Advance(SEC),
            Step::Send(json!({ "name": "cancel/please", "data": { "request_id": "12345" } })),
            Step::Quiet(QUIET),
            Step::Advance(Duration::from_secs(9)),
            request(f, &event)
                .stack(&[SLEEP])
                .steps(json!({ SLEEP: null }))
                .answer(
                    Answer::ops(json!([{ "op": "StepRun", "id": AFTER_THE_SLEEP,
                                         "name": "After the sleep",
                                         "displayName": "After the sleep", "data": text }])),
                    SOON,
                ),
            request(f, &event)
                .stack(&[SLEEP, AFTER_THE_SLEEP])
                .steps(json!({ SLEEP: null, AFTER_THE_SLEEP: { "data": text } }))
                .answer(
                    Answer::done(json!({ "name": "tests/cancel.test", "body": "ok" })),
                    SOON,
                ),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "name": "tests/cancel.test", "body": "ok" }),
        ),
    }
}

/// `TestSDKCancelReceived` (tests/sdk_cancel_test.go:111).
pub fn sdk_cancel_received() -> Case {
    let event = cancel_event(true);
    Case {
        id: "sdk/cancel-received",
        source: "tests/sdk_cancel_test.go:111",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request("cancel-test", &event).answer(js_sleep_10s(), SOON),
            Step::Advance(SEC),
            Step::Send(json!({ "name": "cancel/please", "data": { "request_id": "123" } })),
            Step::Advance(Duration::from_secs(25)),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::status(RunStatus::Cancelled),
    }
}

/// `TestCancelFunctionViaAPI` (tests/sdk_cancel_via_api_test.go:16).
pub fn sdk_cancel_via_api() -> Case {
    let event = cancel_event(false);
    Case {
        id: "sdk/cancel-via-api",
        source: "tests/sdk_cancel_via_api_test.go:16",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request("cancel-test", &event).answer(js_sleep_10s(), SOON),
            Step::Advance(SEC),
            Step::CancelViaApi,
            Step::Advance(Duration::from_secs(25)),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::status(RunStatus::Cancelled),
    }
}

fn js_wait() -> Answer {
    let cond = "async.data.resume == true && async.data.id == event.data.id";
    Answer::ops(
        json!([{ "op": "WaitForEvent", "id": TEST_RESUME, "name": "test/resume",
                         "displayName": "test/resume", "data": null,
                         "opts": { "if": cond, "timeout": "10s" } }]),
    )
}

/// `TestSDKWaitForEvent_WithEvent` (tests/sdk_wait_for_event_test.go:14): the JS op names the
/// event in `name` only.
pub fn sdk_wait_for_event_with_event() -> Case {
    let event = json!({ "name": "tests/wait.test", "data": { "id": "123" }, "user": {} });
    let f = "wait-for-event";
    let ts = now_ms();
    Case {
        id: "sdk/wait-for-event-with-event",
        source: "tests/sdk_wait_for_event_test.go:14",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(js_wait(), SOON),
            Step::Send(
                json!({ "name": "test/resume", "data": { "id": "lol what in the world?!" } }),
            ),
            Step::Quiet(QUIET),
            Step::Send(json!({ "id": "resume", "name": "test/resume",
                               "data": { "id": "123", "resume": true }, "ts": ts, "user": {} })),
            request(f, &event)
                .stack(&[TEST_RESUME])
                .steps(json!({ TEST_RESUME: { "name": "test/resume",
                                              "data": { "id": "123", "resume": true },
                                              "user": {}, "ts": ts, "id": "resume" } }))
                .answer(
                    Answer::done(json!({ "result": { "id": "123", "resume": true } })),
                    SOON,
                ),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(
            RunStatus::Completed,
            json!({ "result": { "id": "123", "resume": true } }),
        ),
    }
}

/// `TestSDKWaitForEvent_NoEvent` (tests/sdk_wait_for_event_test.go:109): the wait times out
/// after 10 s with a `null` memo; an event after that resumes nothing.
pub fn sdk_wait_for_event_no_event() -> Case {
    let event = json!({ "name": "tests/wait.test", "data": { "id": "123" }, "user": {} });
    let f = "wait-for-event";
    Case {
        id: "sdk/wait-for-event-no-event",
        source: "tests/sdk_wait_for_event_test.go:109",
        app: "test-suite",
        functions: legacy_functions(),
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(js_wait(), SOON),
            Step::Quiet(QUIET),
            Step::Advance(Duration::from_secs(11)),
            request(f, &event)
                .stack(&[TEST_RESUME])
                .steps(json!({ TEST_RESUME: null }))
                .answer(Answer::done(json!({})), SOON),
            Step::Send(json!({ "id": "resume", "name": "test/resume",
                               "data": { "id": "123", "resume": true } })),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(RunStatus::Completed, json!({})),
    }
}

/// `TestStepErrors` (tests/golang/step_error_test.go:16): a `StepFailed` keeps the error's
/// `data` in the memo (the Go SDK's handler needs it), without `noRetry`.
pub fn golang_step_errors() -> Case {
    let event = json!({ "name": "test/fail", "data": { "test": true, "id": "1" } });
    let f = "always-fail";
    let error = json!({ "name": "Step failed", "message": "this step fails", "data": "some-data" });
    Case {
        id: "golang/step-errors",
        source: "tests/golang/step_error_test.go:16",
        app: "golang",
        functions: vec![json!({ "id": f, "triggers": [{ "event": "test/fail" }], "retries": 0 })],
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::ops(json!([go_error(
                    "StepFailed",
                    FAILS,
                    "fails",
                    error.clone()
                )]))
                .no_retry(),
                SOON,
            ),
            request(f, &event)
                .stack(&[FAILS])
                .steps(json!({ FAILS: { "error": error } }))
                .answer(
                    Answer::ops(json!([go_run(SUCCEEDS, "succeeds", json!(["ok", true]))])),
                    SOON,
                ),
            request(f, &event)
                .stack(&[FAILS, SUCCEEDS])
                .steps(json!({ FAILS: { "error": error }, SUCCEEDS: { "data": ["ok", true] } }))
                .answer(Answer::done(json!(["ok", true])), SOON),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(RunStatus::Completed, json!(["ok", true])),
    }
}

/// `TestStepErrorCalledOnce` (tests/golang/step_error_test.go:75): `Retry-After` on a step
/// error is honoured (two retries within 5 s, real time), and a 500 with
/// `X-Inngest-No-Retry: true` is not retried.
pub fn golang_step_error_called_once() -> Case {
    let event = json!({ "name": "test/fail", "data": { "test": true, "id": "1" } });
    let f = "always-fail";
    let error = json!({ "name": "Step error", "message": "this step fails", "data": "some-data" });
    let failed =
        json!({ "name": "Step failed", "message": "this step fails", "data": "some-data" });
    let step_error = || {
        Answer::ops(json!([go_error(
            "StepError",
            FAILS,
            "fails",
            error.clone()
        )]))
        .retry_after(&retry_now())
    };
    let within = Duration::from_millis(2500);
    Case {
        id: "golang/step-error-called-once",
        source: "tests/golang/step_error_test.go:75",
        app: "golang",
        functions: vec![json!({ "id": f, "triggers": [{ "event": "test/fail" }], "retries": 2 })],
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(step_error(), SOON),
            request(f, &event).attempt(1).answer(step_error(), within),
            request(f, &event).attempt(2).answer(
                Answer::ops(json!([go_error(
                    "StepFailed",
                    FAILS,
                    "fails",
                    failed.clone()
                )]))
                .no_retry()
                .retry_after(&retry_now()),
                within,
            ),
            request(f, &event)
                .stack(&[FAILS])
                .steps(json!({ FAILS: { "error": failed } }))
                .answer(
                    Answer::error(
                        500,
                        json!({ "message": "unhandled step error: this step fails" }),
                    )
                    .no_retry(),
                    SOON,
                ),
            Step::Quiet(QUIET),
            Step::Advance(Duration::from_secs(3600)),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(
            RunStatus::Failed,
            json!({ "message": "unhandled step error: this step fails" }),
        ),
    }
}

/// `TestRetry` (tests/golang/retry_test.go:20): `Retry-After` on step errors and on a
/// function error; each retry within seconds.
pub fn golang_retry() -> Case {
    let event = json!({ "name": "test/retry", "data": { "name": "retry" } });
    let f = "test-retry";
    let name = "Log input, increase counter";
    let within = Duration::from_millis(2500);
    let step_error = |message: &str, data: &str| {
        Answer::ops(json!([go_error(
            "StepError",
            LOG_INPUT,
            name,
            json!({ "name": "Step error", "message": message, "data": data })
        )]))
        .retry_after(&retry_now())
    };
    Case {
        id: "golang/retry",
        source: "tests/golang/retry_test.go:20",
        app: "golang",
        functions: vec![function(f, "test/retry")],
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(step_error("step err", "1"), SOON),
            request(f, &event)
                .attempt(1)
                .answer(step_error("second step err", "2"), within),
            request(f, &event).attempt(2).answer(
                Answer::ops(json!([go_run(LOG_INPUT, name, json!("retry"))])),
                within,
            ),
            request(f, &event)
                .stack(&[LOG_INPUT])
                .steps(json!({ LOG_INPUT: { "data": "retry" } }))
                .answer(
                    Answer::error(500, json!({ "message": "fn err" })).retry_after(&retry_now()),
                    SOON,
                ),
            request(f, &event)
                .attempt(1)
                .stack(&[LOG_INPUT])
                .steps(json!({ LOG_INPUT: { "data": "retry" } }))
                .answer(Answer::done(json!("done")), within),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(RunStatus::Completed, json!("done")),
    }
}

/// `TestMaxRetries` (tests/golang/retry_test.go:187): 20 retries, i.e. 21 attempts, then the
/// step fails and the run with it. Each `Retry-After: 1` is met by moving the clock a second.
pub fn golang_max_retries() -> Case {
    let event = json!({ "name": "event", "data": {} });
    let f = "fn";
    let error = json!({ "name": "Step error", "message": "oh no" });
    let failed = json!({ "name": "Step failed", "message": "oh no" });
    let mut script = vec![Step::Send(event.clone())];
    for attempt in 0..20 {
        script.push(request(f, &event).attempt(attempt).answer(
            Answer::ops(json!([go_error("StepError", A, "a", error.clone())])).retry_after("1"),
            SOON,
        ));
        // Let the server take the answer in before its clock moves.
        script.push(Step::Sleep(Duration::from_millis(50)));
        script.push(Step::Advance(SEC));
    }
    script.push(request(f, &event).attempt(20).answer(
        Answer::ops(json!([go_error("StepFailed", A, "a", failed.clone())])).no_retry(),
        SOON,
    ));
    script.push(
        request(f, &event)
            .stack(&[A])
            .steps(json!({ A: { "error": failed } }))
            .answer(
                Answer::error(500, json!({ "message": "unhandled step error: oh no" })).no_retry(),
                SOON,
            ),
    );
    script.push(Step::Quiet(QUIET));
    Case {
        id: "golang/max-retries",
        source: "tests/golang/retry_test.go:187",
        app: "golang",
        functions: vec![json!({ "id": f, "triggers": [{ "event": "event" }], "retries": 20 })],
        script,
        outcome: Outcome::status(RunStatus::Failed),
    }
}

fn invoke_functions() -> Vec<Value> {
    vec![
        json!({ "id": "main-fn", "triggers": [{ "event": "invoke-me" }] }),
        json!({ "id": "invoked-fn", "triggers": [{ "event": "none" }], "retries": 0 }),
    ]
}

fn invoked_event() -> Value {
    json!({ "name": "inngest/function.invoked", "data": {} })
}

/// `TestInvoke` (tests/golang/invoke_test.go:22): the child's output resumes the parent as
/// `{"data": …}`.
pub fn golang_invoke() -> Case {
    let event = json!({ "name": "invoke-me", "data": {} });
    let invoke = json!({ "op": "InvokeFunction", "id": INVOKE, "name": "invoke",
                         "opts": { "function_id": "golang-invoked-fn",
                                   "payload": { "data": null, "user": null } },
                         "userland": { "id": "invoke" } });
    Case {
        id: "golang/invoke",
        source: "tests/golang/invoke_test.go:22",
        app: "golang",
        functions: invoke_functions(),
        script: vec![
            Step::Send(event.clone()),
            request("main-fn", &event).answer(Answer::ops(json!([invoke])), SOON),
            request("invoked-fn", &invoked_event()).answer(Answer::done(json!("invoked!")), SOON),
            request("main-fn", &event)
                .stack(&[INVOKE])
                .steps(json!({ INVOKE: { "data": "invoked!" } }))
                .answer(Answer::done(json!("success")), SOON),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(RunStatus::Completed, json!("success")),
    }
}

/// `TestInvokeTimeout` (tests/golang/invoke_test.go:259): the parent gets
/// `InngestInvokeTimeoutError` after 1 s while the child sleeps 5 s.
pub fn golang_invoke_timeout() -> Case {
    let event = json!({ "name": "invoke-me", "data": {} });
    let invoke = json!({ "op": "InvokeFunction", "id": INVOKE, "name": "invoke",
                         "opts": { "function_id": "golang-invoked-fn", "timeout": "1s",
                                   "payload": { "data": null, "user": null } } });
    let message = "Timed out waiting for invoked function to complete";
    Case {
        id: "golang/invoke-timeout",
        source: "tests/golang/invoke_test.go:259",
        app: "golang",
        functions: invoke_functions(),
        script: vec![
            Step::Send(event.clone()),
            request("main-fn", &event).answer(Answer::ops(json!([invoke])), SOON),
            request("invoked-fn", &invoked_event()).answer(
                Answer::ops(json!([go_sleep(SLEEP_STEP, "sleep", "5s")])),
                SOON,
            ),
            Step::Quiet(QUIET),
            Step::Advance(SEC),
            request("main-fn", &event)
                .stack(&[INVOKE])
                .steps(json!({ INVOKE: { "error": {
                    "error": format!("InngestInvokeTimeoutError: {message}"),
                    "name": "InngestInvokeTimeoutError", "message": message } } }))
                .answer(
                    Answer::error(500, json!({ "message": message })).no_retry(),
                    SOON,
                ),
            Step::Advance(Duration::from_secs(5)),
            request("invoked-fn", &invoked_event())
                .stack(&[SLEEP_STEP])
                .steps(json!({ SLEEP_STEP: null }))
                .answer(Answer::done(Value::Null), SOON),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(RunStatus::Failed, json!({ "message": message })),
    }
}

/// `TestParallelCoalesce` (tests/golang/parallel_test.go:123), request version 2: one discovery
/// after each group, `disable_immediate_execution` back to false for it, so the step between
/// the groups runs at once.
pub fn golang_parallel_coalesce() -> Case {
    let event = json!({ "name": "parallel/coalesce", "data": {} });
    let f = "fn";
    let null_data = json!({ "data": null });
    let memo = |ids: &[&str]| {
        Value::Object(
            ids.iter()
                .map(|id| (id.to_string(), null_data.clone()))
                .collect(),
        )
    };
    let targeted = |ids: &[&str], stack: &[&str], current: usize| {
        ids.iter()
            .map(|id| {
                request(f, &event)
                    .target(id)
                    .planning()
                    .stack(stack)
                    .current(current)
                    .steps(memo(stack))
                    .unordered()
                    .exchange(Answer::ops(json!([go_run(id, id, Value::Null)])), SOON)
            })
            .collect::<Vec<_>>()
    };
    let a = [A1, A2, A3];
    let a_between = [A1, A2, A3, BETWEEN];
    let all = [A1, A2, A3, BETWEEN, B1, B2];
    let all_after = [A1, A2, A3, BETWEEN, B1, B2, AFTER];
    Case {
        id: "golang/parallel-coalesce",
        source: "tests/golang/parallel_test.go:123",
        app: "golang",
        functions: vec![function(f, "parallel/coalesce")],
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::ops(json!([
                    go_planned(A1, "a1"),
                    go_planned(A2, "a2"),
                    go_planned(A3, "a3")
                ])),
                SOON,
            ),
            Step::Group(targeted(&a, &[], 0)),
            request(f, &event)
                .stack(&a)
                .steps(memo(&a))
                .unordered()
                .answer(
                    Answer::ops(json!([go_run(BETWEEN, "between", Value::Null)])),
                    SOON,
                ),
            request(f, &event)
                .stack(&a_between)
                .steps(memo(&a_between))
                .unordered()
                .answer(
                    Answer::ops(json!([go_planned(B1, "b1"), go_planned(B2, "b2")])),
                    SOON,
                ),
            Step::Group(targeted(&[B1, B2], &a_between, 4)),
            request(f, &event)
                .stack(&all)
                .steps(memo(&all))
                .unordered()
                .answer(
                    Answer::ops(json!([go_run(AFTER, "after", Value::Null)])),
                    SOON,
                ),
            request(f, &event)
                .stack(&all_after)
                .steps(memo(&all_after))
                .unordered()
                .answer(Answer::done(json!([null, null])), SOON),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(RunStatus::Completed, json!([null, null])),
    }
}

/// `TestParallelStepFailuresOnFailureDeduplication` (tests/golang/parallel_test.go:614): two
/// failed parallel steps fail the run once, and its failure handler runs once.
pub fn golang_parallel_failures_on_failure() -> Case {
    let event = json!({ "name": "parallel/fail", "data": {} });
    let f = "parallel-fail";
    let failed = |m: &str| json!({ "name": "Step failed", "message": m });
    let memo = json!({ STEP_A: { "error": failed("a failed") },
                       STEP_B: { "error": failed("b failed") } });
    let failure_event = json!({ "name": "inngest/function.failed",
                                "data": { "function_id": "golang-parallel-fail",
                                          "_inngest": { "status": "Failed" },
                                          "error": { "error": "NonRetriableError", "name": "Error",
                                                     "message": "unhandled step error: a failed" },
                                          "result": { "message": "unhandled step error: a failed" } } });
    Case {
        id: "golang/parallel-failures-on-failure",
        source: "tests/golang/parallel_test.go:614",
        app: "golang",
        functions: vec![
            json!({ "id": f, "triggers": [{ "event": "parallel/fail" }], "retries": 0 }),
            json!({ "id": "on-failure", "retries": 0,
                    "triggers": [{ "event": "inngest/function.failed",
                                   "expression": "event.data.function_id == 'golang-parallel-fail'" }] }),
        ],
        script: vec![
            Step::Send(event.clone()),
            request(f, &event).answer(
                Answer::ops(json!([
                    go_planned(STEP_A, "step-a"),
                    go_planned(STEP_B, "step-b")
                ])),
                SOON,
            ),
            Step::Group(vec![
                request(f, &event).target(STEP_A).planning().exchange(
                    Answer::ops(json!([go_error(
                        "StepFailed",
                        STEP_A,
                        "step-a",
                        failed("a failed")
                    )]))
                    .no_retry(),
                    SOON,
                ),
                request(f, &event).target(STEP_B).planning().exchange(
                    Answer::ops(json!([go_error(
                        "StepFailed",
                        STEP_B,
                        "step-b",
                        failed("b failed")
                    )]))
                    .no_retry(),
                    SOON,
                ),
            ]),
            request(f, &event)
                .stack(&[STEP_A, STEP_B])
                .steps(memo)
                .unordered()
                .answer(
                    Answer::error(500, json!({ "message": "unhandled step error: a failed" }))
                        .no_retry(),
                    SOON,
                ),
            request("on-failure", &failure_event)
                .partial_event()
                .answer(Answer::done(Value::Null), SOON),
            Step::Quiet(QUIET),
        ],
        outcome: Outcome::is(
            RunStatus::Failed,
            json!({ "message": "unhandled step error: a failed" }),
        ),
    }
}

/// `TestNotSDKResponse/200 status code` (tests/golang/not_sdk_response_test.go:19): a 200
/// without `X-Inngest-SDK` fails the run (no retry with `retries: 0`), whose output is the
/// body.
pub fn golang_not_sdk_200() -> Case {
    not_sdk(200, "golang/not-sdk-200", None)
}

/// `TestNotSDKResponse/206 status code`: a 206 whose body is no ops fails on reading them.
pub fn golang_not_sdk_206() -> Case {
    not_sdk(
        206,
        "golang/not-sdk-206",
        Some("error reading generator opcode response"),
    )
}

fn not_sdk(status: u16, id: &'static str, contains: Option<&'static str>) -> Case {
    let event = json!({ "name": "not-sdk/event", "data": {} });
    Case {
        id,
        source: "tests/golang/not_sdk_response_test.go:19",
        app: "golang",
        functions: vec![
            json!({ "id": "fn", "triggers": [{ "event": "not-sdk/event" }],
                                "retries": 0 }),
        ],
        script: vec![
            Step::Send(event.clone()),
            request("fn", &event).answer(Answer::not_sdk(status, "<html>hi</html>"), SOON),
            Step::Quiet(QUIET),
            Step::Advance(Duration::from_secs(3600)),
            Step::Quiet(QUIET),
        ],
        outcome: Some(Outcome {
            status: RunStatus::Failed,
            output: contains.is_none().then(|| json!("<html>hi</html>")),
            output_contains: contains,
        }),
    }
}

/// Every case, in the order of `docs/dev-server.md`'s table.
pub fn all() -> Vec<Case> {
    vec![
        runner_basic_invoke(),
        runner_steps_serial(),
        runner_retry_basic(),
        runner_cancel_basic(),
        runner_wait_for_event_basic(),
        sdk_functions(),
        sdk_steps(),
        sdk_retry(),
        sdk_no_retry(),
        sdk_cancel_not_received(),
        sdk_cancel_received(),
        sdk_cancel_via_api(),
        sdk_wait_for_event_with_event(),
        sdk_wait_for_event_no_event(),
        golang_step_errors(),
        golang_step_error_called_once(),
        golang_retry(),
        golang_max_retries(),
        golang_invoke(),
        golang_invoke_timeout(),
        golang_parallel_coalesce(),
        golang_parallel_failures_on_failure(),
        golang_not_sdk_200(),
        golang_not_sdk_206(),
    ]
}
