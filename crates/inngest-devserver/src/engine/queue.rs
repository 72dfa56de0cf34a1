//! The engine's due work: queue items in the order they fall due, with an index by run, so
//! that the items of one run (its sleep's wake-up when a step resolves, all of them when it
//! ends) are found without a walk over every item queued. Calls and timers (wake-ups,
//! timeouts, deadlines) are kept apart, so that a tick can look at every due timer and stop
//! looking at the due calls once the caps of calls in flight are reached.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::run::{Job, QueueItem};

/// An item's place in the queue: when it is due (ms), then its id.
pub(super) type Key = (i64, String);

/// Queue items by [`Key`], calls and timers apart, and the keys of each run's items.
#[derive(Default)]
pub(super) struct Queue {
    /// Items that call the app ([`Job::Execute`]).
    calls: BTreeMap<Key, QueueItem>,
    /// The others: wake-ups, timeouts, deadlines.
    timers: BTreeMap<Key, QueueItem>,
    by_run: HashMap<String, BTreeSet<Key>>,
}

impl Queue {
    /// Queues `item` (replacing an item with the same time and id).
    pub fn insert(&mut self, item: QueueItem) {
        let key = (item.at_ms, item.id.clone());
        // One item per key: the one it replaces leaves its place and its run's index.
        self.remove(&key);
        self.by_run
            .entry(item.run_id.clone())
            .or_default()
            .insert(key.clone());
        let kind = match item.job {
            Job::Execute(_) => &mut self.calls,
            Job::Wake { .. } | Job::Timeout { .. } | Job::Deadline => &mut self.timers,
        };
        kind.insert(key, item);
    }

    /// The item at `key`.
    pub fn get(&self, key: &Key) -> Option<&QueueItem> {
        self.entry(key).map(|(_, item)| item)
    }

    /// The item at `key` with its key, from whichever map holds it.
    fn entry(&self, key: &Key) -> Option<(&Key, &QueueItem)> {
        self.calls
            .get_key_value(key)
            .or_else(|| self.timers.get_key_value(key))
    }

    /// Takes the item at `key` out of the queue.
    pub fn remove(&mut self, key: &Key) -> Option<QueueItem> {
        let item = self.calls.remove(key).or_else(|| self.timers.remove(key))?;
        self.unindex(&item.run_id, key);
        Some(item)
    }

    /// Takes every item of `run_id` out of the queue.
    pub fn remove_run(&mut self, run_id: &str) {
        for key in self.by_run.remove(run_id).into_iter().flatten() {
            if self.calls.remove(&key).is_none() {
                self.timers.remove(&key);
            }
        }
    }

    /// The items of `run_id`, in the order they fall due.
    pub fn of_run<'a>(&'a self, run_id: &str) -> impl Iterator<Item = (&'a Key, &'a QueueItem)> {
        self.by_run
            .get(run_id)
            .into_iter()
            .flatten()
            .filter_map(|key| self.entry(key))
    }

    /// The calls due at `now` or before, in order.
    pub fn due_calls(&self, now: i64) -> impl Iterator<Item = (&Key, &QueueItem)> {
        self.calls.range(..=Self::last_at(now))
    }

    /// The timers due at `now` or before, in order.
    pub fn due_timers(&self, now: i64) -> impl Iterator<Item = (&Key, &QueueItem)> {
        self.timers.range(..=Self::last_at(now))
    }

    /// The greatest key due at `now` (ids are ULIDs, which sort below "~").
    fn last_at(now: i64) -> Key {
        (now, String::from("~"))
    }

    /// When the first item is due.
    pub fn first_at(&self) -> Option<i64> {
        self.first_from(i64::MIN)
    }

    /// When the first item due after `now` is due.
    pub fn next_after(&self, now: i64) -> Option<i64> {
        self.first_from(now.saturating_add(1))
    }

    /// When the first item due at `at` or later is due.
    fn first_from(&self, at: i64) -> Option<i64> {
        [&self.calls, &self.timers]
            .into_iter()
            .filter_map(|items| items.range((at, String::new())..).next())
            .map(|((due, _), _)| *due)
            .min()
    }

    /// How many items are queued.
    pub fn len(&self) -> usize {
        self.calls.len() + self.timers.len()
    }

    fn unindex(&mut self, run_id: &str, key: &Key) {
        if let Some(keys) = self.by_run.get_mut(run_id) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_run.remove(run_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, run_id: &str, at_ms: i64) -> QueueItem {
        QueueItem {
            id: id.into(),
            run_id: run_id.into(),
            at_ms,
            job: Job::Wake { step: "s".into() },
        }
    }

    fn call(id: &str, run_id: &str, at_ms: i64) -> QueueItem {
        QueueItem {
            job: Job::Execute(crate::run::CallJob {
                step_id: "step".into(),
                attempt: 0,
                outgoing: None,
                stale_plan: false,
            }),
            ..item(id, run_id, at_ms)
        }
    }

    fn ids<'a>(items: impl Iterator<Item = (&'a Key, &'a QueueItem)>) -> Vec<&'a str> {
        items.map(|(_, i)| i.id.as_str()).collect()
    }

    #[test]
    fn items_come_due_in_order_and_each_run_finds_its_own() {
        let mut q = Queue::default();
        q.insert(item("C", "r1", 30));
        q.insert(item("A", "r2", 10));
        q.insert(item("B", "r1", 20));
        q.insert(item("D", "r2", 40));
        assert_eq!(q.len(), 4);
        assert_eq!(ids(q.due_timers(20)), ["A", "B"]);
        assert_eq!(ids(q.due_timers(5)), Vec::<&str>::new());
        assert_eq!(q.first_at(), Some(10));
        assert_eq!(q.next_after(20), Some(30));
        assert_eq!(q.next_after(40), None);
        assert_eq!(ids(q.of_run("r1")), ["B", "C"]);
        assert_eq!(ids(q.of_run("none")), Vec::<&str>::new());

        // A removed item leaves its run's index; a run's items go together.
        assert_eq!(q.remove(&(20, "B".into())).map(|i| i.id), Some("B".into()));
        assert!(q.remove(&(20, "B".into())).is_none());
        assert_eq!(ids(q.of_run("r1")), ["C"]);
        q.remove_run("r2");
        assert_eq!(ids(q.due_timers(i64::MAX)), ["C"]);
        assert_eq!(ids(q.of_run("r2")), Vec::<&str>::new());
        q.remove(&(30, "C".into()));
        assert_eq!(q.len(), 0);
        assert!(q.by_run.is_empty(), "no index entry outlives its items");
    }

    #[test]
    fn calls_and_timers_come_due_apart_and_leave_together() {
        let mut q = Queue::default();
        q.insert(call("B", "r1", 20));
        q.insert(item("A", "r1", 10));
        q.insert(call("C", "r2", 30));
        assert_eq!(ids(q.due_calls(25)), ["B"]);
        assert_eq!(ids(q.due_timers(25)), ["A"]);
        assert_eq!(ids(q.of_run("r1")), ["A", "B"]);
        assert_eq!(
            (q.first_at(), q.next_after(10), q.len()),
            (Some(10), Some(20), 3)
        );
        assert_eq!(q.get(&(20, "B".into())).map(|i| i.id.as_str()), Some("B"));
        // A timer queued under a call's key replaces it.
        q.insert(item("B", "r1", 20));
        assert_eq!(ids(q.due_calls(25)), Vec::<&str>::new());
        assert_eq!(ids(q.due_timers(25)), ["A", "B"]);
        assert_eq!(q.len(), 3);
        q.remove_run("r1");
        assert_eq!(ids(q.due_timers(i64::MAX)), Vec::<&str>::new());
        assert_eq!(ids(q.due_calls(i64::MAX)), ["C"]);
        assert_eq!(ids(q.of_run("r1")), Vec::<&str>::new());
    }

    #[test]
    fn an_item_queued_again_under_its_key_moves_to_its_new_run() {
        let mut q = Queue::default();
        q.insert(item("A", "r1", 10));
        q.insert(item("A", "r2", 10));
        assert_eq!(q.len(), 1);
        assert_eq!(ids(q.of_run("r1")), Vec::<&str>::new());
        assert_eq!(ids(q.of_run("r2")), ["A"]);
        q.remove_run("r2");
        assert_eq!(q.len(), 0);
        assert!(q.by_run.is_empty());
    }
}
