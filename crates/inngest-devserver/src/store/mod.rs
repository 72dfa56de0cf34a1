//! The server's state in SQLite: apps, runs, queue items, events and the clock offset.
//!
//! The engine keeps its state in memory and writes what each turn of its loop changed to the
//! store at the end of the turn, in one transaction (see `engine::journal`); on start it loads
//! what was there, so runs, sleeps and waits survive a restart. The store is a file the caller
//! names (`--state`), or an in-memory database (the default), which gets only what requests
//! read from it: there is no restart to prepare for.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::run::{QueueItem, Run};

mod checkpointer;
mod decode;

use decode::decode;

/// A failure of the state database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused.
    #[error("the state database failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A value does not convert to or from the JSON the database holds.
    #[error("the state database holds a value that does not convert to or from JSON")]
    Decode(#[from] serde_json::Error),
    /// The folder the state file goes in could not be made.
    #[error("cannot create the folder {} for the state file", .path.display())]
    Folder {
        /// The folder.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Which runs [`Store::find_runs`] selects.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunQuery<'a> {
    /// Of this function.
    pub function_id: Option<&'a str>,
    /// With this status (`Running`, `Completed` …).
    pub status: Option<&'a str>,
    /// Older than this run id (the cursor of the next page).
    pub before: Option<&'a str>,
    /// Started at or after, in ms.
    pub from_ms: Option<i64>,
    /// Started before, in ms.
    pub to_ms: Option<i64>,
    /// How many.
    pub limit: usize,
}

/// The SQLite state.
pub struct Store {
    conn: Connection,
    /// Whether the state outlives the process (a file, not an in-memory database).
    durable: bool,
    /// The WAL checkpoints of a state file (none in memory). Declared after `conn`, so that
    /// the connection closes first and the thread's last checkpoint sees every commit.
    _checkpointer: Option<checkpointer::Checkpointer>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apps   (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs   (id TEXT PRIMARY KEY, event_id TEXT, status TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_event ON runs(event_id);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status, id);
CREATE TABLE IF NOT EXISTS queue  (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, body TEXT NOT NULL);
-- A run that ends drops its items: without it, a scan of every item queued (10,000 runs asleep
-- made each run's end cost a walk over their wake-ups).
CREATE INDEX IF NOT EXISTS queue_by_run ON queue(run_id);
CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta   (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- (function, event id) pairs that started a run in the last 24 h: a repeat starts nothing.
CREATE TABLE IF NOT EXISTS received (id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS received_by_time ON received(at_ms);
";

/// The writes a turn of the engine makes (each found through an index: see the test
/// `a_turns_writes_never_scan_a_table`).
const SAVE_RUN: &str = "INSERT INTO runs (id, event_id, status, body, function_id, started_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body";
const SAVE_ITEM: &str = "INSERT OR REPLACE INTO queue (id, run_id, body) VALUES (?1, ?2, ?3)";
const DELETE_ITEM: &str = "DELETE FROM queue WHERE id = ?1";
const DELETE_RUN_ITEMS: &str = "DELETE FROM queue WHERE run_id = ?1";
const SAVE_EVENT: &str = "INSERT OR REPLACE INTO events (id, body) VALUES (?1, ?2)";
const REMEMBER_RECEIVED: &str = "INSERT OR REPLACE INTO received (id, at_ms) VALUES (?1, ?2)";
const FORGET_RECEIVED: &str = "DELETE FROM received WHERE at_ms < ?1";

impl Store {
    /// Opens (creating if needed, with its folder) the database at `path`, or an in-memory one.
    pub fn open(path: Option<&Path>) -> Result<Self, StoreError> {
        let conn = match path {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                Connection::open(p)?
            }
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")?;
        conn.execute_batch(SCHEMA)?;
        Self::add_run_columns(&conn)?;
        // A state file is checkpointed by a thread of its own; the engine's commits only past a
        // WAL far larger than SQLite's default of 1,000 pages (see `checkpointer`).
        let checkpointer = path.and_then(checkpointer::Checkpointer::start);
        if checkpointer.is_some() {
            conn.pragma_update(None, "wal_autocheckpoint", checkpointer::BACKSTOP_PAGES)?;
            conn.pragma_update(None, "journal_size_limit", checkpointer::WAL_SIZE_LIMIT)?;
        }
        Ok(Self {
            conn,
            durable: path.is_some(),
            _checkpointer: checkpointer,
        })
    }

    /// Whether what is written outlives the process: `false` for an in-memory database, whose
    /// writes only serve later reads.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// The columns the runs list filters on (added to a database made before they existed,
    /// filled from the bodies), with their indexes.
    fn add_run_columns(conn: &Connection) -> Result<(), StoreError> {
        let mut has_function = false;
        {
            let mut stmt = conn.prepare("PRAGMA table_info(runs)")?;
            let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
            for name in names {
                has_function |= name? == "function_id";
            }
        }
        if !has_function {
            conn.execute_batch(
                "BEGIN;
                 ALTER TABLE runs ADD COLUMN function_id TEXT;
                 ALTER TABLE runs ADD COLUMN started_ms INTEGER;
                 COMMIT;",
            )?;
        }
        // Runs saved before the columns existed, or by an older binary since, are filled from
        // their bodies (a body that is not JSON stays unfilled: it matches no filter).
        conn.execute_batch(
            "UPDATE runs SET function_id = json_extract(body, '$.function_id'),
                             started_ms = json_extract(body, '$.started_at_ms')
             WHERE (function_id IS NULL OR started_ms IS NULL) AND json_valid(body);",
        )?;
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS runs_by_function ON runs(function_id, id);",
        )?;
        Ok(())
    }

    /// The JSON bodies a query selects, decoded. A body that does not decode is left out with
    /// a warning, so that one bad row hides neither the others nor the server's state.
    fn all<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            match decode(&row?) {
                Ok(value) => out.push(value),
                Err(e) => tracing::warn!(error = %e, "a stored row could not be read; left out"),
            }
        }
        Ok(out)
    }

    /// The JSON body a query selects, if any, decoded.
    fn one<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Option<T>, StoreError> {
        let body: Option<String> = self.conn.query_row(sql, args, |r| r.get(0)).optional()?;
        Ok(body.map(|b| decode(&b)).transpose()?)
    }

    fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
        Ok(serde_json::to_string(value)?)
    }

    /// Saves an app's sync payload.
    pub fn save_app<T: Serialize>(&self, name: &str, app: &T) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO apps (name, body) VALUES (?1, ?2)")?
            .execute(params![name, Self::json(app)?])?;
        Ok(())
    }

    /// Every saved app.
    pub fn apps<T: DeserializeOwned>(&self) -> Result<Vec<T>, StoreError> {
        self.all("SELECT body FROM apps ORDER BY name", [])
    }

    /// Runs `writes` in one transaction: all of them, or none when one fails.
    pub fn in_transaction<T>(
        &self,
        writes: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let done = writes(self)?;
        tx.commit()?;
        Ok(done)
    }

    /// Saves a run. A run's event, function and start never change, so a saved run only has
    /// its status and body updated (an update in place, where a replace would delete the row
    /// and its index entries and insert them again).
    pub fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        self.conn.prepare_cached(SAVE_RUN)?.execute(params![
            run.id,
            run.event_id(),
            format!("{:?}", run.status),
            Self::json(run)?,
            run.function_id,
            run.started_at_ms,
        ])?;
        Ok(())
    }

    /// The runs still running (the engine keeps only these in memory).
    pub fn running_runs(&self) -> Result<Vec<Run>, StoreError> {
        self.all(
            "SELECT body FROM runs WHERE status = 'Running' ORDER BY id",
            [],
        )
    }

    /// A run by id.
    pub fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        self.one("SELECT body FROM runs WHERE id = ?1", params![id])
    }

    /// The runs an event started, in the order they started.
    pub fn runs_of_event(&self, event_id: &str) -> Result<Vec<Run>, StoreError> {
        self.all(
            "SELECT body FROM runs WHERE event_id = ?1 ORDER BY id",
            params![event_id],
        )
    }

    /// The newest runs that match `query`, newest first.
    pub fn find_runs(&self, query: &RunQuery<'_>) -> Result<Vec<Run>, StoreError> {
        let (filter, mut args) = run_filter(query, true);
        args.push(i64::try_from(query.limit).unwrap_or(i64::MAX).into());
        self.all(
            &format!("SELECT body FROM runs{filter} ORDER BY id DESC LIMIT ?"),
            rusqlite::params_from_iter(args),
        )
    }

    /// How many runs match `query` (its `before` and `limit` aside).
    pub fn count_runs(&self, query: &RunQuery<'_>) -> Result<u64, StoreError> {
        let (filter, args) = run_filter(query, false);
        let n: i64 = self
            .conn
            .prepare_cached(&format!("SELECT COUNT(*) FROM runs{filter}"))?
            .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Saves a queue item.
    pub fn save_item(&self, item: &QueueItem) -> Result<(), StoreError> {
        self.conn.prepare_cached(SAVE_ITEM)?.execute(params![
            item.id,
            item.run_id,
            Self::json(item)?
        ])?;
        Ok(())
    }

    /// Removes a queue item once done.
    pub fn delete_item(&self, id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(DELETE_ITEM)?
            .execute(params![id])?;
        Ok(())
    }

    /// Removes every queue item of a run.
    pub fn delete_run_items(&self, run_id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(DELETE_RUN_ITEMS)?
            .execute(params![run_id])?;
        Ok(())
    }

    /// Every queue item.
    pub fn items(&self) -> Result<Vec<QueueItem>, StoreError> {
        self.all("SELECT body FROM queue ORDER BY id", [])
    }

    /// Saves an event the server made itself (a cron tick, a lifecycle event).
    pub fn save_event<T: Serialize>(&self, id: &str, event: &T) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(SAVE_EVENT)?
            .execute(params![id, Self::json(event)?])?;
        Ok(())
    }

    /// Saves a batch of received events, all or none.
    pub fn save_events<T: Serialize>(&self, events: &[(String, T)]) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut event = tx.prepare_cached(SAVE_EVENT)?;
            for (id, body) in events {
                event.execute(params![id, Self::json(body)?])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that a function was started by an event id at `at_ms` (`key` names both).
    pub fn remember_received(&self, key: &str, at_ms: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(REMEMBER_RECEIVED)?
            .execute(params![key, at_ms])?;
        Ok(())
    }

    /// The (function, event id) keys recorded at or after `since_ms`, with when.
    pub fn received_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, at_ms FROM received WHERE at_ms >= ?1")?;
        let rows = stmt.query_map(params![since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the keys recorded before `before_ms`.
    pub fn forget_received(&self, before_ms: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(FORGET_RECEIVED)?
            .execute(params![before_ms])?;
        Ok(())
    }

    /// An event by id, however old.
    pub fn event<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, StoreError> {
        self.one("SELECT body FROM events WHERE id = ?1", params![id])
    }

    /// Saved events newest first, `limit` of them, before the cursor `before` (a cursor
    /// from an earlier page) and named `name` when given; each with its cursor.
    pub fn find_events<T: DeserializeOwned>(
        &self,
        name: Option<&str>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, T)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, body FROM events \
             WHERE (?1 IS NULL OR json_extract(body, '$.name') = ?1) \
               AND (?2 IS NULL OR rowid < ?2) \
             ORDER BY rowid DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![name, before, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (cursor, body) = row?;
            match decode(&body) {
                Ok(event) => out.push((cursor, event)),
                Err(e) => {
                    tracing::warn!(error = %e, cursor, "a stored event could not be read; left out")
                }
            }
        }
        Ok(out)
    }

    /// Reads a setting.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Writes a setting.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
            .execute(params![key, value])?;
        Ok(())
    }
}

/// The `WHERE` clause of a run query, with only the filters it has (and `before` when
/// `paged`), and their values in order. A filter written `(?1 IS NULL OR column = ?1)` keeps
/// SQLite from using an index: a count of every run then read the whole table, bodies
/// included (9 ms at 50,000 small runs; 48 ms in the soak); with only the filters present, it
/// counts an index. The clause is made of fixed fragments; the values are bound.
fn run_filter(query: &RunQuery<'_>, paged: bool) -> (String, Vec<rusqlite::types::Value>) {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(f) = query.function_id {
        clauses.push("function_id = ?");
        args.push(f.to_string().into());
    }
    if let Some(s) = query.status {
        clauses.push("status = ?");
        args.push(s.to_string().into());
    }
    if let Some(before) = query.before.filter(|_| paged) {
        clauses.push("id < ?");
        args.push(before.to_string().into());
    }
    if let Some(from) = query.from_ms {
        clauses.push("started_ms >= ?");
        args.push(from.into());
    }
    if let Some(to) = query.to_ms {
        clauses.push("started_ms < ?");
        args.push(to.into());
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counting runs, whole or by function or status, reads an index, never the table with
    /// its bodies; and each filter selects what it says.
    #[test]
    fn counting_runs_reads_an_index() {
        let store = Store::open(None).expect("a store");
        let queries = [
            RunQuery::default(),
            RunQuery {
                status: Some("Failed"),
                ..RunQuery::default()
            },
            RunQuery {
                function_id: Some("app-f"),
                ..RunQuery::default()
            },
        ];
        for query in queries {
            let (filter, args) = run_filter(&query, false);
            let mut plan = store
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM runs{filter}"
                ))
                .expect("a plan");
            let steps: Vec<String> = plan
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                .expect("runs")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert!(
                steps.iter().all(|s| s.contains("INDEX")),
                "{query:?}: {steps:?}"
            );
        }
        let (filter, args) = run_filter(
            &RunQuery {
                function_id: Some("f"),
                status: Some("Running"),
                before: Some("01X"),
                from_ms: Some(1),
                to_ms: Some(2),
                limit: 5,
            },
            true,
        );
        assert_eq!(
            filter,
            " WHERE function_id = ? AND status = ? AND id < ? AND started_ms >= ? AND started_ms < ?"
        );
        assert_eq!(args.len(), 5);
    }

    /// A row nested deeper than serde_json's default limit is read back, and one too deep to
    /// read is left out of a list instead of failing it.
    #[test]
    fn deep_rows_are_read_and_unreadable_ones_left_out() {
        let store = Store::open(None).expect("a store");
        let nested = |levels: usize| -> serde_json::Value {
            let text = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
            let mut de = serde_json::Deserializer::from_str(&text);
            de.disable_recursion_limit();
            serde::Deserialize::deserialize(&mut de).expect("nested arrays")
        };
        let event = |id: &str, levels: usize| {
            (
                id.to_string(),
                serde_json::json!({"name": "a/b", "id": id, "data": {"x": nested(levels)}}),
            )
        };
        store
            .save_events(&[
                event("shallow", 1),
                event("deep", 200),
                event("too-deep", decode::MAX_DEPTH + 10),
            ])
            .expect("saved");
        let deep: Option<serde_json::Value> = store.event("deep").expect("read");
        assert!(deep.is_some(), "a deep event is read back");
        let listed: Vec<(i64, serde_json::Value)> =
            store.find_events(None, None, 10).expect("listed");
        let ids: Vec<&str> = listed
            .iter()
            .filter_map(|(_, e)| e["id"].as_str())
            .collect();
        assert_eq!(ids, ["deep", "shallow"], "the unreadable row is left out");
        assert!(store.event::<serde_json::Value>("too-deep").is_err());
    }

    /// Every write a turn of the engine makes finds its rows through an index: none scans a
    /// table, whose cost would grow with everything stored or queued.
    #[test]
    fn a_turns_writes_never_scan_a_table() {
        let store = Store::open(None).expect("a store");
        let writes = [
            SAVE_RUN,
            SAVE_ITEM,
            DELETE_ITEM,
            DELETE_RUN_ITEMS,
            SAVE_EVENT,
            REMEMBER_RECEIVED,
            FORGET_RECEIVED,
        ];
        for sql in writes {
            let mut plan = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("a plan");
            let unbound = std::iter::repeat_n(rusqlite::types::Null, plan.parameter_count());
            let steps: Vec<String> = plan
                .query_map(rusqlite::params_from_iter(unbound), |r| {
                    r.get::<_, String>(3)
                })
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("read");
            assert!(
                steps.iter().all(|s| !s.starts_with("SCAN")),
                "{sql}: {steps:?}"
            );
        }
    }

    /// A state file's commits reach the database file through the checkpoint thread, not
    /// through a commit of the engine (whose own checkpoints start only past a WAL of
    /// `BACKSTOP_PAGES`, far more than this test writes).
    /// A state file in a folder that does not exist yet (`--state .inngest/dev.sqlite` in a new
    /// project): the folder is made; one that cannot be made is said plainly.
    #[test]
    fn a_state_files_folder_is_made() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join(".inngest/nested/dev.sqlite");
        drop(Store::open(Some(&path)).expect("opens, its folders made"));
        assert!(path.is_file());
        let blocker = dir.path().join("a-file");
        std::fs::write(&blocker, "").expect("write");
        let err = Store::open(Some(&blocker.join("dev.sqlite")))
            .err()
            .expect("a file where the folder should be");
        assert!(
            err.to_string().starts_with("cannot create the folder"),
            "{err}"
        );
    }

    #[test]
    fn a_state_file_is_checkpointed_by_its_own_thread() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("state.db");
        let store = Store::open(Some(&path)).expect("a store");
        let autocheckpoint: u32 = store
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .expect("read");
        assert_eq!(autocheckpoint, checkpointer::BACKSTOP_PAGES);
        store.set_meta("k", "v").expect("written");
        // The database file alone (without its WAL) holds the write once a checkpoint ran.
        let copy = dir.path().join("copy.db");
        let in_the_file = || {
            std::fs::copy(&path, &copy).expect("copied");
            let _ = std::fs::remove_file(dir.path().join("copy.db-wal"));
            let read = Connection::open(&copy).expect("opens");
            read.query_row("SELECT value FROM meta WHERE key = 'k'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            // Before the first checkpoint the file may not even hold the schema.
            .ok()
            .flatten()
        };
        let deadline = std::time::Instant::now() + checkpointer::INTERVAL * 25;
        while in_the_file().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(checkpointer::INTERVAL / 2);
        }
        assert_eq!(in_the_file().as_deref(), Some("v"));
        drop(store);
    }

    #[test]
    fn a_database_from_before_the_filter_columns_is_migrated_and_filled() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("old.db");
        {
            let old = Connection::open(&path).expect("opens");
            old.execute_batch(
                "CREATE TABLE runs (id TEXT PRIMARY KEY, event_id TEXT, status TEXT NOT NULL, body TEXT NOT NULL);
                 INSERT INTO runs VALUES ('01A', NULL, 'Completed', '{\"function_id\": \"app-a\", \"started_at_ms\": 5}');
                 INSERT INTO runs VALUES ('01B', NULL, 'Completed', 'not json');",
            )
            .expect("the old schema");
        }
        let store = Store::open(Some(&path)).expect("the old database opens");
        let count = |q: RunQuery<'_>| store.count_runs(&q).expect("counted");
        let of_a = RunQuery {
            function_id: Some("app-a"),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(count(of_a), 1);
        assert_eq!(
            count(RunQuery {
                from_ms: Some(5),
                limit: 10,
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            count(RunQuery::default()),
            2,
            "the unreadable body stays, unfiltered"
        );
        drop(store);
        // Opening again (the columns exist now) changes nothing.
        let store = Store::open(Some(&path)).expect("opens again");
        assert_eq!(store.count_runs(&of_a).expect("counted"), 1);
    }
}
