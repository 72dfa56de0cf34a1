//! The WAL checkpoints of a state file, made on a thread of their own.
//!
//! In WAL mode a commit appends its pages to the `-wal` file and does not sync (`synchronous =
//! NORMAL`); a checkpoint copies those pages into the database and syncs it. Left to SQLite,
//! the checkpoint is made by whichever commit crosses 1,000 pages of WAL: every few hundred
//! turns, one turn of the engine would wait for a sync (milliseconds on a slow disk, while
//! every run waits behind it). Here a thread with its own connection makes a passive
//! checkpoint (it never blocks a writer) every [`INTERVAL`], and the engine's own connection
//! checkpoints only past [`BACKSTOP_PAGES`], which the thread keeps it from reaching unless it
//! falls far behind.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// How often the thread checkpoints.
pub(super) const INTERVAL: Duration = Duration::from_millis(200);

/// The WAL size, in pages, past which a commit of the engine checkpoints itself.
pub(super) const BACKSTOP_PAGES: u32 = 10_000;

/// The checkpointing thread of one state file; stopped (after a last checkpoint) and joined
/// when dropped.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` (already in WAL mode).
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // A checkpoint waits for no lock: a passive one that finds the database busy gives up
        // until the next interval.
        conn.busy_timeout(Duration::ZERO)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("inngest-devserver-wal".into())
            .spawn(move || {
                loop {
                    let last = match stopped.recv_timeout(INTERVAL) {
                        Err(mpsc::RecvTimeoutError::Timeout) => false,
                        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
                    };
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "a WAL checkpoint did not run");
                    }
                    if last {
                        break;
                    }
                }
            })
            .map_err(StoreError::Thread)?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
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
