//! The engine's due work: queue items in the order they fall due, with an index by run, so
//! that the items of one run (its sleep's wake-up when a step resolves, all of them when it
//! ends) are found without a walk over every item queued. Calls and timers (wake-ups,
//! timeouts, deadlines) are kept apart, and the calls are indexed by app, so that a tick looks
//! at every due timer but only at the calls that can start: none of an app at its cap of calls
//! in flight, and none at all once the server is at its own (see [`Queue::startable_calls`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::run::{Job, QueueItem};

/// An item's place in the queue: when it is due (ms), then its id.
pub(super) type Key = (i64, String);

/// Queue items by [`Key`], calls and timers apart, and the keys of each run's and each app's.
#[derive(Default)]
pub(super) struct Queue {
    /// Items that call the app ([`Job::Execute`]).
    calls: BTreeMap<Key, QueueItem>,
    /// The others: wake-ups, timeouts, deadlines.
    timers: BTreeMap<Key, QueueItem>,
    by_run: HashMap<String, RunItems>,
    /// The keys of the calls of each app (the app of their run; `""` when it was not known).
    calls_by_app: HashMap<String, BTreeSet<Key>>,
}

/// The items of one run, and its app.
#[derive(Default)]
struct RunItems {
    app: String,
    keys: BTreeSet<Key>,
}

/// The due calls of one app, in order, and how many more of them may start.
struct Lane<'a, I: Iterator<Item = (&'a Key, &'a QueueItem)>> {
    calls: std::iter::Peekable<I>,
    room: usize,
}

impl Queue {
    /// Queues `item` of a run of `app` (`""` if unknown), replacing an item with the same time
    /// and id.
    pub fn insert(&mut self, item: QueueItem, app: &str) {
        let key = (item.at_ms, item.id.clone());
        // One item per key: the one it replaces leaves its place and its run's index.
        self.remove(&key);
        let run = self.by_run.entry(item.run_id.clone()).or_default();
        if run.app != app {
            run.app = app.to_string();
        }
        run.keys.insert(key.clone());
        match item.job {
            Job::Execute(_) => {
                if let Some(keys) = self.calls_by_app.get_mut(app) {
                    keys.insert(key.clone());
                } else {
                    self.calls_by_app
                        .insert(app.to_string(), BTreeSet::from([key.clone()]));
                }
                self.calls.insert(key, item);
            }
            Job::Wake { .. } | Job::Timeout { .. } | Job::Deadline => {
                self.timers.insert(key, item);
            }
        }
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
        if let Some(item) = self.calls.remove(key) {
            if let Some(run) = self.by_run.get(&item.run_id) {
                unindex_call(&mut self.calls_by_app, &run.app, key);
            }
            self.unindex(&item.run_id, key);
            return Some(item);
        }
        let item = self.timers.remove(key)?;
        self.unindex(&item.run_id, key);
        Some(item)
    }

    /// Takes every item of `run_id` out of the queue.
    pub fn remove_run(&mut self, run_id: &str) {
        let Some(run) = self.by_run.remove(run_id) else {
            return;
        };
        for key in run.keys {
            if self.calls.remove(&key).is_some() {
                unindex_call(&mut self.calls_by_app, &run.app, &key);
            } else {
                self.timers.remove(&key);
            }
        }
    }

    /// The items of `run_id`, in the order they fall due.
    pub fn of_run<'a>(&'a self, run_id: &str) -> impl Iterator<Item = (&'a Key, &'a QueueItem)> {
        self.by_run
            .get(run_id)
            .into_iter()
            .flat_map(|run| &run.keys)
            .filter_map(|key| self.entry(key))
    }

    /// The calls due at `now` or before that may start, in the order they fell due: of each
    /// app at most `room(app)` (0 for an app at its cap or not synced, whose calls are not even
    /// looked at), and at most `free` in all. A call for which `live` says false (its run is
    /// gone) is handed on too, for dispatch to drop, and takes no room.
    pub fn startable_calls(
        &self,
        now: i64,
        mut free: usize,
        room: impl Fn(&str) -> usize,
        mut live: impl FnMut(&QueueItem) -> bool,
    ) -> Vec<Key> {
        let last = Self::last_at(now);
        let mut lanes: Vec<Lane<'_, _>> = self
            .calls_by_app
            .iter()
            .filter_map(|(app, keys)| {
                let room = room(app);
                let calls = keys
                    .range(..=last.clone())
                    .filter_map(|key| self.calls.get_key_value(key));
                (room > 0).then(|| Lane {
                    calls: calls.peekable(),
                    room,
                })
            })
            .collect();
        let mut startable = Vec::new();
        while free > 0 {
            // The lane whose next call fell due first.
            let mut first: Option<(usize, &Key)> = None;
            for (i, lane) in lanes.iter_mut().enumerate() {
                if let Some(&(key, _)) = lane.calls.peek() {
                    if first.is_none_or(|(_, k)| key < k) {
                        first = Some((i, key));
                    }
                }
            }
            let Some((i, _)) = first else { break };
            let lane = &mut lanes[i];
            let Some((key, item)) = lane.calls.next() else {
                break;
            };
            startable.push(key.clone());
            if live(item) {
                free -= 1;
                lane.room -= 1;
                if lane.room == 0 {
                    lanes.swap_remove(i);
                }
            }
        }
        startable
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
        if let Some(run) = self.by_run.get_mut(run_id) {
            run.keys.remove(key);
            if run.keys.is_empty() {
                self.by_run.remove(run_id);
            }
        }
    }
}

/// Takes `key` out of `app`'s calls (a free function, so that the run's entry that names the
/// app can stay borrowed meanwhile).
fn unindex_call(calls_by_app: &mut HashMap<String, BTreeSet<Key>>, app: &str, key: &Key) {
    if let Some(keys) = calls_by_app.get_mut(app) {
        keys.remove(key);
        if keys.is_empty() {
            calls_by_app.remove(app);
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

    /// Every due call, as with no cap.
    fn due_calls(q: &Queue, now: i64) -> Vec<String> {
        q.startable_calls(now, usize::MAX, |_| usize::MAX, |_| true)
            .into_iter()
            .map(|(_, id)| id)
            .collect()
    }

    #[test]
    fn items_come_due_in_order_and_each_run_finds_its_own() {
        let mut q = Queue::default();
        q.insert(item("C", "r1", 30), "app");
        q.insert(item("A", "r2", 10), "app");
        q.insert(item("B", "r1", 20), "app");
        q.insert(item("D", "r2", 40), "app");
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
        q.insert(call("B", "r1", 20), "app");
        q.insert(item("A", "r1", 10), "app");
        q.insert(call("C", "r2", 30), "app");
        assert_eq!(due_calls(&q, 25), ["B"]);
        assert_eq!(ids(q.due_timers(25)), ["A"]);
        assert_eq!(ids(q.of_run("r1")), ["A", "B"]);
        assert_eq!(
            (q.first_at(), q.next_after(10), q.len()),
            (Some(10), Some(20), 3)
        );
        assert_eq!(q.get(&(20, "B".into())).map(|i| i.id.as_str()), Some("B"));
        // A timer queued under a call's key replaces it.
        q.insert(item("B", "r1", 20), "app");
        assert_eq!(due_calls(&q, 25), Vec::<String>::new());
        assert_eq!(ids(q.due_timers(25)), ["A", "B"]);
        assert_eq!(q.len(), 3);
        q.remove_run("r1");
        assert_eq!(ids(q.due_timers(i64::MAX)), Vec::<&str>::new());
        assert_eq!(due_calls(&q, i64::MAX), ["C"]);
        assert_eq!(ids(q.of_run("r1")), Vec::<&str>::new());
    }

    #[test]
    fn an_item_queued_again_under_its_key_moves_to_its_new_run() {
        let mut q = Queue::default();
        q.insert(item("A", "r1", 10), "app");
        q.insert(item("A", "r2", 10), "app");
        assert_eq!(q.len(), 1);
        assert_eq!(ids(q.of_run("r1")), Vec::<&str>::new());
        assert_eq!(ids(q.of_run("r2")), ["A"]);
        q.remove_run("r2");
        assert_eq!(q.len(), 0);
        assert!(q.by_run.is_empty());
    }

    /// A tick looks at the calls that can start, in the order they fell due: none of an app
    /// at its cap (however many it has queued), at most each app's room and the server's, and
    /// a call whose run is gone is handed on without taking room.
    #[test]
    fn only_calls_that_can_start_are_looked_at() {
        let mut q = Queue::default();
        for i in 0..1000 {
            q.insert(call(&format!("A{i:04}"), "ra", i), "capped");
        }
        q.insert(call("B1", "rb", 5), "open");
        q.insert(call("B2", "rb", 7), "open");
        q.insert(call("B3", "rb", 9), "open");
        q.insert(call("C1", "rc", 6), "other");
        q.insert(call("G1", "gone", 1), "");
        let room = |app: &str| match app {
            "capped" => 0,
            "open" => 2,
            _ => usize::MAX,
        };
        let mut looked = Vec::new();
        let startable = q.startable_calls(1000, 10, room, |item| {
            looked.push(item.id.clone());
            item.run_id != "gone"
        });
        let ids: Vec<&str> = startable.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["G1", "B1", "C1", "B2"]);
        assert_eq!(
            looked,
            ["G1", "B1", "C1", "B2"],
            "nothing of the capped app"
        );

        // The server's cap counts too: with room for 2 calls, the first 2 live ones.
        let startable = q.startable_calls(1000, 2, room, |item| item.run_id != "gone");
        let ids: Vec<&str> = startable.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["G1", "B1", "C1"]);
        // None while the server is at its cap.
        assert!(q.startable_calls(1000, 0, room, |_| true).is_empty());

        // A call removed leaves its app's index, and a run's calls go together.
        q.remove(&(5, "B1".into()));
        q.remove_run("rc");
        q.remove_run("ra");
        let startable = q.startable_calls(1000, 10, |_| usize::MAX, |_| true);
        let ids: Vec<&str> = startable.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["G1", "B2", "B3"]);
        q.remove_run("rb");
        q.remove_run("gone");
        assert_eq!(q.len(), 0);
        assert!(
            q.calls_by_app.is_empty(),
            "no index entry outlives its calls"
        );
    }
}
