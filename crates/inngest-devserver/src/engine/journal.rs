//! The store writes of one turn of the engine loop.
//!
//! The engine changes its memory at once and notes here what the store must learn. At the end
//! of the turn (once the calls it made due have gone out, and before it takes the next command)
//! the notes are written in one transaction: the next SDK call does not wait for SQLite, and a
//! run changed several times in a turn is written once, as it is at the end. The turn's answers
//! wait for the commit when the store is a file; with an in-memory store they go first.
//!
//! Received events are the exception: a batch is stored before it is routed, so that a batch
//! the store refuses is refused as a whole (see [`Engine::ingest`](super::Engine)).
//!
//! An in-memory store (no state file) has no restart to prepare for, only later reads: there
//! the journal keeps what the API reads from the store (events, finished runs, and each run
//! once as it starts, so that lists find it; a running run is read from memory) and drops the
//! rest (queue items, deduplication keys, settings, apps, a running run's every change).

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::Engine;
use crate::registry::AppRecord;
use crate::run::{QueueItem, Run};
use crate::store::{Store, StoreError};

/// One write, in the order the engine made it.
pub(super) enum Write {
    /// A finished run, dropped from memory: its last state.
    FinishedRun(Box<Run>),
    /// A new or changed queue item.
    Item(QueueItem),
    /// A queue item done with.
    DeleteItem(String),
    /// Every queue item of a run.
    DeleteRunItems(String),
    /// An event the server made itself (a cron tick, a lifecycle event).
    Event(String, Value),
    /// A (function, event id) start for deduplication, and when.
    Received(String, i64),
    /// Deduplication keys older than this, forgotten.
    ForgetReceived(i64),
    /// A setting.
    Meta(&'static str, String),
    /// A synced app.
    App(String, Box<AppRecord>),
}

impl Write {
    /// Whether only a restart reads what this writes (the engine loads it on start), and no
    /// request does.
    fn only_for_restart(&self) -> bool {
        match self {
            Write::Item(_)
            | Write::DeleteItem(_)
            | Write::DeleteRunItems(_)
            | Write::Received(..)
            | Write::ForgetReceived(_)
            | Write::Meta(..)
            | Write::App(..) => true,
            Write::FinishedRun(_) | Write::Event(..) => false,
        }
    }
}

/// What the store must learn at the end of the turn.
pub(super) struct Journal {
    /// Whether the store outlives the process (else only what requests read is kept).
    durable: bool,
    writes: Vec<Write>,
    /// Runs still in memory that started or changed: saved as they are when the turn ends.
    runs: HashSet<String>,
}

impl Journal {
    /// An empty journal for a store that outlives the process (`durable`) or not.
    pub fn new(durable: bool) -> Self {
        Self {
            durable,
            writes: Vec::new(),
            runs: HashSet::new(),
        }
    }

    /// What was noted so far, leaving this journal empty.
    pub fn take(&mut self) -> Self {
        std::mem::replace(self, Self::new(self.durable))
    }

    /// Notes a write.
    pub fn push(&mut self, write: Write) {
        if self.durable || !write.only_for_restart() {
            self.writes.push(write);
        }
    }

    /// Notes a new queue item (cloned only if the store keeps queue items).
    pub fn push_item(&mut self, item: &QueueItem) {
        if self.durable {
            self.writes.push(Write::Item(item.clone()));
        }
    }

    /// Notes that a run started (it is in memory).
    pub fn run_started(&mut self, run_id: &str) {
        self.note_run(run_id);
    }

    /// Notes that a run in memory changed.
    pub fn run_changed(&mut self, run_id: &str) {
        if self.durable {
            self.note_run(run_id);
        }
    }

    fn note_run(&mut self, run_id: &str) {
        if !self.runs.contains(run_id) {
            self.runs.insert(run_id.to_string());
        }
    }

    /// Notes the last state of a run that leaves memory.
    pub fn run_finished(&mut self, run: Run) {
        self.runs.remove(&run.id);
        self.writes.push(Write::FinishedRun(Box::new(run)));
    }

    /// Whether the turn has anything to write.
    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty() || !self.runs.is_empty()
    }
}

fn apply(store: &Store, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::FinishedRun(run) => store.save_run(run),
        Write::Item(item) => store.save_item(item),
        Write::DeleteItem(id) => store.delete_item(id),
        Write::DeleteRunItems(run_id) => store.delete_run_items(run_id),
        Write::Event(id, event) => store.save_event(id, event),
        Write::Received(key, at_ms) => store.remember_received(key, *at_ms),
        Write::ForgetReceived(before_ms) => store.forget_received(*before_ms),
        Write::Meta(key, value) => store.set_meta(key, value),
        Write::App(name, app) => store.save_app(name, app),
    }
}

/// Writes `journal` to `store` in one transaction, reading the changed runs from `live`. A write
/// that fails is logged and the others still happen (memory stays authoritative, as it always
/// was for these writes).
fn write(store: &Store, journal: Journal, live: &BTreeMap<String, Run>) {
    let Journal { writes, runs, .. } = journal;
    let written = store.in_transaction(|store| {
        for write in &writes {
            if let Err(e) = apply(store, write) {
                tracing::error!(error = %crate::error_chain(&e), "could not persist state");
            }
        }
        for run in runs.iter().filter_map(|id| live.get(id)) {
            if let Err(e) = store.save_run(run) {
                tracing::error!(run = %run.id, error = %crate::error_chain(&e), "could not persist a run");
            }
        }
        Ok(())
    });
    if let Err(e) = written {
        tracing::error!(error = %crate::error_chain(&e), "could not commit the state");
    }
}

impl Engine {
    /// Writes what the turn changed, in one transaction.
    pub(super) fn flush(&mut self) {
        if self.journal.has_writes() {
            write(&self.store, self.journal.take(), &self.runs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Job, RunStatus};

    fn run(id: &str, status: RunStatus) -> Run {
        serde_json::from_value(serde_json::json!({
            "id": id, "function_id": "app-fn", "app_id": "app",
            "event": {"name": "x"}, "events": [{"name": "x"}],
            "memo": {}, "stack": [], "status": status, "output": null,
            "started_at_ms": 1000, "ended_at_ms": null, "version": 2, "force_plan": false,
            "pending": {}, "parent": null, "max_attempts": 4, "steps": [],
        }))
        .expect("a run")
    }

    fn item(id: &str, run_id: &str) -> QueueItem {
        QueueItem {
            id: id.into(),
            run_id: run_id.into(),
            at_ms: 5,
            job: Job::Wake { step: "s".into() },
        }
    }

    #[test]
    fn a_turn_is_written_in_order_with_each_changed_run_as_it_ends() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = Store::open(Some(&dir.path().join("state.db"))).expect("a store");
        assert!(store.is_durable());
        let mut live = BTreeMap::new();
        let mut a = run("01A", RunStatus::Running);
        live.insert(a.id.clone(), a.clone());

        let mut turn = Journal::new(store.is_durable());
        // Saved then done with in the same turn: gone; done with then saved again: kept.
        turn.push(Write::Item(item("q1", "01A")));
        turn.push(Write::DeleteItem("q1".into()));
        turn.push(Write::DeleteItem("q2".into()));
        turn.push(Write::Item(item("q2", "01A")));
        // Changed twice: written once, as memory holds it when the turn ends.
        turn.run_changed("01A");
        turn.run_changed("01A");
        a.memo.insert("h".into(), serde_json::json!({"data": 1}));
        live.insert(a.id.clone(), a.clone());
        // A run that finished (and left memory) in the turn: its last state.
        turn.run_changed("01B");
        turn.run_finished(run("01B", RunStatus::Completed));
        assert!(turn.has_writes());
        write(&store, turn, &live);

        let items: Vec<String> = store
            .items()
            .expect("items")
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(items, ["q2"]);
        let saved_a = store.run("01A").expect("read").expect("saved");
        assert_eq!(
            saved_a.memo, a.memo,
            "the run as it was when the turn ended"
        );
        let b = store.run("01B").expect("read").expect("saved");
        assert_eq!(b.status, RunStatus::Completed);
        assert!(!Journal::new(true).has_writes());
    }

    /// With no state file there is no restart: a turn writes what requests read (events,
    /// finished runs, a run as it starts) and not what only a restart would (queue items,
    /// settings, a running run's every change, which requests read from memory).
    #[test]
    fn an_in_memory_store_gets_only_what_requests_read() {
        let store = Store::open(None).expect("a store");
        assert!(!store.is_durable());
        let mut live = BTreeMap::new();
        let mut a = run("01A", RunStatus::Running);
        live.insert(a.id.clone(), a.clone());

        let mut turn = Journal::new(store.is_durable());
        turn.push(Write::Item(item("q1", "01A")));
        turn.push(Write::Meta("clock_offset_ms", "5".into()));
        turn.push(Write::Received("app-fn:e1".into(), 5));
        assert!(!turn.has_writes(), "nothing a request reads yet");
        turn.run_started("01A");
        turn.push(Write::Event(
            "e1".into(),
            serde_json::json!({"id": "e1", "name": "x"}),
        ));
        write(&store, turn.take(), &live);
        assert!(!turn.has_writes(), "taken");
        assert_eq!(store.items().expect("items").len(), 0);
        assert_eq!(store.meta("clock_offset_ms").expect("meta"), None);
        assert!(store.received_since(0).expect("keys").is_empty());
        assert!(
            store
                .event::<serde_json::Value>("e1")
                .expect("read")
                .is_some()
        );
        let saved = store
            .run("01A")
            .expect("read")
            .expect("a started run is listed");
        assert_eq!(saved.status, RunStatus::Running);

        // A change of a running run is not written again; its end is.
        a.memo.insert("h".into(), serde_json::json!({"data": 1}));
        live.insert(a.id.clone(), a.clone());
        turn.run_changed("01A");
        assert!(!turn.has_writes());
        a.status = RunStatus::Completed;
        live.remove("01A");
        turn.run_finished(a.clone());
        write(&store, turn.take(), &live);
        let saved = store.run("01A").expect("read").expect("saved");
        assert_eq!(saved.status, RunStatus::Completed);
        assert_eq!(saved.memo, a.memo, "its last state");
    }
}
