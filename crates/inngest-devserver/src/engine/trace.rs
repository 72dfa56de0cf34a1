//! A run as the dashboard draws it: its steps and attempts as spans on one time axis.
//!
//! Each span is one thing that took time: an attempt of a step (queued, then running until
//! the SDK reported it), a sleep, a wait for an event, an invoke. A retried step is one span
//! per attempt, each with its error and when the next attempt is due.

use serde::Serialize;
use serde_json::Value;

use super::RunView;
use crate::run::{Pending, Run, StepRecord};

/// What a span stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SpanKind {
    /// An attempt of `step.run` (or code the SDK ran inline and checkpointed).
    Run,
    /// `step.sleep` / `step.sleep_until`.
    Sleep,
    /// `step.wait_for_event`.
    Wait,
    /// `step.invoke`.
    Invoke,
}

/// How a span ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SpanStatus {
    /// It returned (or woke, matched, timed out, the invoked run finished).
    Completed,
    /// This attempt failed and another follows.
    Retrying,
    /// The step failed for good.
    Failed,
    /// Still going: sleeping, waiting, invoked run running.
    Running,
    /// The run ended (cancelled, failed) before it did: a sleep that never woke, a wait that
    /// never matched, an attempt whose retry never came.
    Cut,
}

/// One span of a run's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// The hashed step id.
    pub id: String,
    /// The step's name as the user wrote it.
    pub name: String,
    /// What it is.
    pub kind: SpanKind,
    /// The op the SDK reported.
    pub op: String,
    /// Zero-based attempt.
    pub attempt: u32,
    /// How it ended.
    pub status: SpanStatus,
    /// When the call that reported it was due, in ms (for attempts).
    pub queued_ms: Option<i64>,
    /// When it started, in ms.
    pub started_ms: i64,
    /// When it ended, in ms; `None` while it goes on.
    pub ended_ms: Option<i64>,
    /// Its result (a step's output, the matched event, the invoked run's output).
    pub output: Option<Value>,
    /// The error of a failed attempt.
    pub error: Option<Value>,
    /// When the next attempt is due (RFC 3339), for a retried attempt.
    pub retry_at: Option<String>,
    /// A sentence for what it waits on: `until 2026-12-02T10:00:00Z`, `app/approved until …`.
    pub detail: Option<String>,
}

/// A run with its trigger and timeline (`GET /v1/runs/{id}/trace`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunTrace {
    /// The run as the runs API shows it.
    pub run: RunView,
    /// The triggering events.
    pub events: Vec<Value>,
    /// Started, in ms.
    pub started_ms: i64,
    /// Ended, in ms.
    pub ended_ms: Option<i64>,
    /// Its steps and attempts, in the order reported.
    pub spans: Vec<Span>,
}

/// A memo entry as the user sees it: the `data` of `{"data": …}`, the `error` of
/// `{"error": …}`, else the value itself.
fn shown(memo: &Value) -> Value {
    match memo {
        Value::Object(o) if o.len() == 1 && o.contains_key("data") => o["data"].clone(),
        other => other.clone(),
    }
}

/// The kind of an op's record, `None` for records that are no span (a plan).
fn kind_of(op: &str) -> Option<SpanKind> {
    Some(match op {
        "Sleep" => SpanKind::Sleep,
        "WaitForEvent" => SpanKind::Wait,
        "InvokeFunction" => SpanKind::Invoke,
        "StepPlanned" => return None,
        _ => SpanKind::Run,
    })
}

/// The span of one record; `prev_end` is where the previous record ended (the start of a
/// record that does not know its own).
fn span(run: &Run, record: &StepRecord, prev_end: i64, last_of_step: bool) -> Option<Span> {
    let kind = kind_of(&record.op)?;
    let memo = run.memo.get(&record.id);
    let pending = run.pending.get(&record.id);
    // The run ended while this was still open: it never finished.
    let cut = run.is_finished() && last_of_step && memo.is_none();
    let (status, started_ms, ended_ms) = match kind {
        SpanKind::Run => {
            let status = match record.op.as_str() {
                "StepFailed" => SpanStatus::Failed,
                "StepError" if record.retry_at.is_some() && cut => SpanStatus::Cut,
                "StepError" if record.retry_at.is_some() => SpanStatus::Retrying,
                "StepError" => SpanStatus::Failed,
                _ => SpanStatus::Completed,
            };
            let start = record.started_ms.unwrap_or(prev_end).min(record.at_ms);
            (status, start, Some(record.at_ms))
        }
        _ => {
            let going = pending.is_some() && last_of_step && !run.is_finished();
            let status = if going {
                SpanStatus::Running
            } else if cut && record.ended_ms.is_none() {
                SpanStatus::Cut
            } else {
                SpanStatus::Completed
            };
            let end = if going {
                None
            } else {
                Some(
                    record
                        .ended_ms
                        .or(run.ended_at_ms)
                        .unwrap_or(record.at_ms)
                        .max(record.at_ms),
                )
            };
            (status, record.at_ms, end)
        }
    };
    let output = match (kind, status) {
        (_, SpanStatus::Retrying | SpanStatus::Running | SpanStatus::Cut) => None,
        (SpanKind::Sleep, _) => None,
        _ if record.error.is_some() => None,
        _ => memo.map(shown),
    };
    let detail = pending.map(|p| match p {
        Pending::Sleep { until_ms } => format!("until {}", crate::clock::rfc3339(*until_ms)),
        Pending::Wait {
            event, expires_ms, ..
        } => format!("{event} until {}", crate::clock::rfc3339(*expires_ms)),
        Pending::Invoke { child_run_id, .. } => format!("run {child_run_id}"),
        Pending::Planned => "planned".to_string(),
    });
    Some(Span {
        id: record.id.clone(),
        name: record.name.clone(),
        kind,
        op: record.op.clone(),
        attempt: record.attempt,
        status,
        queued_ms: record.queued_ms,
        started_ms,
        ended_ms,
        output,
        error: record.error.clone(),
        // A retry the run's end cut off is not coming.
        retry_at: record
            .retry_at
            .clone()
            .filter(|_| status != SpanStatus::Cut),
        detail: if last_of_step && status != SpanStatus::Cut {
            detail
        } else {
            None
        },
    })
}

impl From<&Run> for RunTrace {
    fn from(run: &Run) -> Self {
        let mut spans = Vec::with_capacity(run.steps.len());
        let mut prev_end = run.started_at_ms;
        // Where each step's last record is (a retried step has one per attempt).
        let last: std::collections::HashMap<&str, usize> = run
            .steps
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        for (i, record) in run.steps.iter().enumerate() {
            let last_of_step = last.get(record.id.as_str()) == Some(&i);
            if let Some(s) = span(run, record, prev_end, last_of_step) {
                if s.kind == SpanKind::Run {
                    prev_end = s.ended_ms.unwrap_or(prev_end);
                } else if let Some(end) = s.ended_ms {
                    prev_end = prev_end.max(end);
                }
                spans.push(s);
            }
        }
        Self {
            run: RunView::from(run),
            events: run.events.clone(),
            started_ms: run.started_at_ms,
            ended_ms: run.ended_at_ms,
            spans,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, op: &str, at_ms: i64) -> StepRecord {
        StepRecord {
            id: id.into(),
            name: format!("step {id}"),
            op: op.into(),
            at_ms,
            attempt: 0,
            error: None,
            retry_at: None,
            queued_ms: None,
            started_ms: None,
            ended_ms: None,
        }
    }

    fn run(steps: Vec<StepRecord>) -> Run {
        serde_json::from_value(json!({
            "id": "01RUN", "function_id": "app-fn", "app_id": "app",
            "event": {"name": "x"}, "events": [{"name": "x"}],
            "memo": {}, "stack": [], "status": "Running", "output": null,
            "started_at_ms": 1000, "ended_at_ms": null, "version": 2, "force_plan": false,
            "pending": {}, "parent": null, "max_attempts": 4, "steps": steps,
        }))
        .expect("a run")
    }

    #[test]
    fn a_retried_step_is_one_span_per_attempt_and_outputs_come_from_the_memo() {
        let mut failed = record("a", "StepError", 1200);
        failed.started_ms = Some(1100);
        failed.queued_ms = Some(1050);
        failed.error = Some(json!({"name": "Error", "message": "boom"}));
        failed.retry_at = Some("2026-01-01T00:00:00Z".into());
        let mut ok = record("a", "StepRun", 3000);
        ok.attempt = 1;
        ok.started_ms = Some(2900);
        let mut r = run(vec![record("a", "StepPlanned", 1000), failed, ok]);
        r.memo.insert("a".into(), json!({"data": {"sent": true}}));
        let t = RunTrace::from(&r);
        assert_eq!(t.spans.len(), 2, "the plan is no span: {:?}", t.spans);
        assert_eq!(t.spans[0].status, SpanStatus::Retrying);
        assert_eq!(t.spans[0].output, None);
        assert_eq!(t.spans[0].queued_ms, Some(1050));
        assert_eq!(
            (t.spans[0].started_ms, t.spans[0].ended_ms),
            (1100, Some(1200))
        );
        assert_eq!(t.spans[1].status, SpanStatus::Completed);
        assert_eq!(t.spans[1].attempt, 1);
        assert_eq!(t.spans[1].output, Some(json!({"sent": true})));
    }

    #[test]
    fn a_pending_sleep_runs_on_and_a_woken_one_ends_when_it_woke() {
        let mut woke = record("s1", "Sleep", 2000);
        woke.ended_ms = Some(5000);
        let mut r = run(vec![woke, record("s2", "Sleep", 6000)]);
        r.memo.insert("s1".into(), Value::Null);
        r.pending
            .insert("s2".into(), Pending::Sleep { until_ms: 9000 });
        let t = RunTrace::from(&r);
        assert_eq!(t.spans[0].status, SpanStatus::Completed);
        assert_eq!(
            (t.spans[0].started_ms, t.spans[0].ended_ms),
            (2000, Some(5000))
        );
        assert_eq!(t.spans[1].status, SpanStatus::Running);
        assert_eq!(t.spans[1].ended_ms, None);
        assert_eq!(
            t.spans[1].detail.as_deref(),
            Some("until 1970-01-01T00:00:09.000Z")
        );
    }

    #[test]
    fn a_run_cancelled_during_a_sleep_or_a_backoff_cuts_the_span_off() {
        let mut failed = record("a", "StepError", 1200);
        failed.retry_at = Some("2026-01-01T00:00:00Z".into());
        let mut r = run(vec![failed, record("s", "Sleep", 1300)]);
        r.pending
            .insert("s".into(), Pending::Sleep { until_ms: 9000 });
        r.status = crate::run::RunStatus::Cancelled;
        r.ended_at_ms = Some(2000);
        let t = RunTrace::from(&r);
        assert_eq!(t.spans[0].status, SpanStatus::Cut);
        assert_eq!(t.spans[0].retry_at, None, "no retry is coming");
        assert_eq!(t.spans[1].status, SpanStatus::Cut);
        assert_eq!(t.spans[1].ended_ms, Some(2000), "it ends with the run");
        assert_eq!(t.spans[1].detail, None);
    }

    #[test]
    fn a_step_without_its_call_start_starts_where_the_previous_one_ended() {
        let r = run(vec![
            record("a", "StepRun (checkpoint)", 1500),
            record("b", "StepRun (checkpoint)", 1700),
        ]);
        let t = RunTrace::from(&r);
        assert_eq!((t.spans[0].started_ms, t.spans[1].started_ms), (1000, 1500));
    }
}
