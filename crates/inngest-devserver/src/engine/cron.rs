//! Cron triggers: each scheduled function's next tick, and the run it starts.

use inngest_runtime::cron::CronSchedule;
use serde_json::json;

use super::Engine;
use crate::clock::rfc3339;
use crate::registry::Trigger;

/// A function's schedule and when it next fires.
pub(super) struct CronEntry {
    function_id: String,
    schedule: CronSchedule,
    pub next_ms: i64,
}

fn next_after(schedule: &CronSchedule, ms: i64) -> Option<i64> {
    let at = chrono::DateTime::from_timestamp_millis(ms)?;
    Some(schedule.next_after(at)?.timestamp_millis())
}

impl Engine {
    pub(super) fn rebuild_crons(&mut self) {
        let now = self.clock.now_ms();
        self.crons = self
            .registry
            .functions()
            .flat_map(|f| {
                f.triggers.iter().filter_map(move |t| match t {
                    Trigger::Cron(schedule) => Some(CronEntry {
                        function_id: f.config.id.clone(),
                        next_ms: next_after(schedule, now)?,
                        schedule: (**schedule).clone(),
                    }),
                    Trigger::Event { .. } => None,
                })
            })
            .collect();
    }

    /// Starts a run for every schedule whose tick has come. A clock moved past several ticks
    /// fires once, as a server that was down does not backfill.
    pub(super) fn fire_crons(&mut self) {
        let now = self.clock.now_ms();
        let mut due = Vec::new();
        for entry in &mut self.crons {
            if entry.next_ms <= now {
                due.push((
                    entry.function_id.clone(),
                    entry.schedule.as_str().to_string(),
                    entry.next_ms,
                ));
                entry.next_ms = next_after(&entry.schedule, now).unwrap_or(i64::MAX);
            }
        }
        for (function_id, cron, tick) in due {
            self.tick_cron(&function_id, &cron, tick, now);
        }
    }

    /// Starts a run of `function_id` as its next tick would, now; the run id, `None` if it has
    /// no cron trigger.
    pub(super) fn fire_cron_now(&mut self, function_id: &str) -> Option<String> {
        let now = self.clock.now_ms();
        let cron = self
            .crons
            .iter()
            .find(|c| c.function_id == function_id)?
            .schedule
            .as_str()
            .to_string();
        self.tick_cron(function_id, &cron, now, now)
    }

    fn tick_cron(&mut self, function_id: &str, cron: &str, tick: i64, now: i64) -> Option<String> {
        {
            let event = json!({
                "name": "inngest/scheduled.timer",
                "data": { "cron": cron, "scheduledAt": rfc3339(tick), "fireAt": rfc3339(tick) },
                "id": ulid::Ulid::new().to_string(),
                "ts": now,
            });
            let id = event["id"].as_str().unwrap_or_default().to_string();
            self.journal
                .push(super::journal::Write::Event(id.clone(), event.clone()));
            self.changed(|| super::Change::Event {
                id,
                name: "inngest/scheduled.timer".into(),
            });
            tracing::info!(function = %function_id, %cron, "cron tick");
            self.start_run(function_id, vec![event], None)
        }
    }
}
