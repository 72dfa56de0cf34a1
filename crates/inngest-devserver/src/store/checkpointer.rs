//! The WAL checkpoints of a state file, made on a thread of their own.
//!
//! In WAL mode a commit appends its pages to the `-wal` file and does not sync (`synchronous =
//! NORMAL`: a commit survives a crash of the process, not of the machine); a checkpoint copies
//! those pages into the database and syncs it. Left to SQLite, the checkpoint is made by
//! whichever commit crosses 1,000 pages of WAL: every few hundred turns, one turn of the engine
//! would wait for a sync (milliseconds on a slow disk, while every run waits behind it). Here a
//! thread with its own connection makes a passive checkpoint (it never blocks a writer) every
//! [`INTERVAL`], and the engine's own connection checkpoints only past [`BACKSTOP_PAGES`].
//!
//! Under a steady stream of commits the thread never quite catches up (SQLite starts the WAL
//! over only when a write finds every page of it copied), so the WAL grows to the backstop,
//! where one commit of the engine finishes the copy and the WAL starts over: about one turn
//! in ten thousand pages written waits for the disk, instead of one in a thousand.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the thread checkpoints.
pub(super) const INTERVAL: Duration = Duration::from_millis(200);

/// The WAL size, in pages, past which a commit of the engine checkpoints itself.
pub(super) const BACKSTOP_PAGES: u32 = 10_000;

/// The size the WAL file is cut back to when it starts over, in bytes.
pub(super) const WAL_SIZE_LIMIT: u32 = 8 << 20;

/// The checkpointing thread of one state file; stopped (after a last checkpoint) and joined
/// when dropped.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` (already in WAL mode); `None`, with a
    /// warning, if the thread or its connection cannot start (SQLite then checkpoints as it
    /// does by default).
    pub fn start(path: &Path) -> Option<Self> {
        let conn = match Connection::open(path) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "the state file's checkpoint thread could not open it; SQLite checkpoints it instead");
                return None;
            }
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("inngest-devserver-wal".into())
            .spawn(move || checkpoint_until_stopped(&conn, &stopped));
        match spawned {
            Ok(thread) => Some(Self {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "the state file's checkpoint thread did not start; SQLite checkpoints it instead");
                None
            }
        }
    }
}

/// Checkpoints every [`INTERVAL`], and once more when told to stop.
fn checkpoint_until_stopped(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    let mut warned = false;
    loop {
        let last = match stopped.recv_timeout(INTERVAL) {
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        // A passive checkpoint takes no lock a writer needs, and copies what it can.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            // A disk that is full or gone fails every time: said once, then only in debug logs.
            if warned {
                tracing::debug!(error = %e, "a WAL checkpoint failed");
            } else {
                tracing::warn!(error = %e, "a WAL checkpoint of the state file failed");
                warned = true;
            }
        }
        if last {
            break;
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
