//! A child process as one job, as watchexec's supervisor treats it: started in its own process
//! group with its output prefixed on the console, stopped gracefully (SIGTERM to the group,
//! then SIGKILL after a grace period), and watched for an exit of its own.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, Command};

use super::console::{Console, Source};

/// Why a job did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The process could not be spawned.
    #[error(transparent)]
    Spawn(#[from] std::io::Error),
    /// It started, but its process group is not one a signal may go to.
    #[error(transparent)]
    Group(#[from] GroupError),
}

/// A process group id that must not be signalled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The child has no pid (it was already reaped).
    #[error("the child has no process id")]
    NoPid,
    /// 0 names our own group (`killpg(0)` signals `dev` itself), 1 is init.
    #[error("process group {0} is not the child's own")]
    Reserved(u32),
    /// Not a pid the system could give.
    #[error("process id {0} is out of range")]
    OutOfRange(u32),
}

/// The process group of a child started with `process_group(0)`: its pid. Never 0 (our own
/// group) nor 1 (init), whatever the pid says.
fn process_group(pid: Option<u32>) -> Result<Pid, GroupError> {
    let pid = pid.ok_or(GroupError::NoPid)?;
    match i32::try_from(pid) {
        Ok(0 | 1) => Err(GroupError::Reserved(pid)),
        Ok(raw) => Ok(Pid::from_raw(raw)),
        Err(_) => Err(GroupError::OutOfRange(pid)),
    }
}

/// How a job ended, for a line of output: `exited (<status>)`, or `ended` when its status
/// could not be read.
pub fn how_it_ended(status: Option<std::process::ExitStatus>) -> String {
    status.map_or("ended".to_string(), |s| format!("exited ({s})"))
}

/// A running child in its own process group.
///
/// Dropped without [`Job::stop`] (a rebuild cancelled by Ctrl-C, say), it kills its whole group,
/// so nothing it started is left behind.
pub struct Job {
    child: Child,
    pid: u32,
    group: Pid,
    /// Whether the child has been waited for: its group id may then belong to someone else.
    reaped: bool,
    /// Its last lines of output, stdout and stderr together.
    tail: Tail,
}

/// The longest piece of a job's output shown as one line; a longer line is shown in pieces.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// How many lines of a job's output are kept for [`Job::last_lines`].
const TAIL_LINES: usize = 12;

/// The last [`TAIL_LINES`] lines a job printed.
#[derive(Clone, Default)]
struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: &str) {
        if let Ok(mut t) = self.0.lock() {
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line.to_string());
        }
    }

    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl Job {
    /// Starts `cmd` in a new process group, copying its output to the console as `source`.
    pub fn start(mut cmd: Command, console: &Console, source: Source) -> Result<Self, JobError> {
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        // Dropping the child on an error kills it (`kill_on_drop`), without any group signal.
        let group = process_group(child.id())?;
        let pid = group.as_raw().unsigned_abs();
        let tail = Tail::default();
        let copy = |stream: Box<dyn tokio::io::AsyncRead + Send + Unpin>| {
            let console = console.clone();
            let tail = tail.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut line = Vec::new();
                // Read until the pipe closes, whatever comes: bytes that are not UTF-8 are
                // shown replaced and a very long line in pieces, so the child never writes to a
                // pipe nobody reads (which would kill it with SIGPIPE).
                loop {
                    line.clear();
                    let mut piece = (&mut reader).take(MAX_LINE_BYTES);
                    match piece.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            while line.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                                line.pop();
                            }
                            let text = String::from_utf8_lossy(&line);
                            tail.push(&text);
                            console.line(source, &text);
                        }
                    }
                }
            });
        };
        if let Some(out) = child.stdout.take() {
            copy(Box::new(out));
        }
        if let Some(err) = child.stderr.take() {
            copy(Box::new(err));
        }
        Ok(Self {
            child,
            pid,
            group,
            reaped: false,
            tail,
        })
    }

    /// Its last lines of output (at most 12), oldest first, once they have been read.
    pub fn last_lines(&self) -> Vec<String> {
        self.tail.lines()
    }

    /// Its last lines of output once it has exited: a moment is left for the readers to catch
    /// up with what it printed before it exited.
    pub async fn last_words(&self) -> Vec<String> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.tail.lines()
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resolves when the process exits on its own. What it left running in its group (a
    /// server it started, say, still holding the port) is killed then.
    pub async fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.wait().await.ok();
        self.kill_leftovers();
        status
    }

    /// Whether it has exited, without waiting; if so, what it left in its group is killed.
    pub fn try_exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        if status.is_some() {
            self.kill_leftovers();
        }
        status
    }

    /// The child has just been waited for: SIGKILL to what is left of its group. Right after
    /// the wait, the group id cannot belong to anyone else: while a process of the group
    /// lives, the system does not give its id to a new process, and when none does the signal
    /// finds nobody.
    fn kill_leftovers(&mut self) {
        if !self.reaped {
            let _ = killpg(self.group, Signal::SIGKILL);
            self.reaped = true;
        }
    }

    /// SIGTERM to the whole group, wait up to `grace`, then SIGKILL the group.
    pub async fn stop(mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        if self.try_exited().is_none() {
            let _ = killpg(self.group, Signal::SIGTERM);
        }
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(s) => s.ok(),
            Err(_) => {
                let _ = killpg(self.group, Signal::SIGKILL);
                self.child.wait().await.ok()
            }
        };
        // Anything the process left in its group goes too.
        let _ = killpg(self.group, Signal::SIGKILL);
        self.reaped = true;
        status
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // Only while the child is alive and unreaped is its pid surely still its group's id.
        if !self.reaped && matches!(self.child.try_wait(), Ok(None)) {
            let _ = killpg(self.group, Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_group_and_init_are_never_a_childs_group() {
        assert_eq!(process_group(Some(0)), Err(GroupError::Reserved(0)));
        assert_eq!(process_group(Some(1)), Err(GroupError::Reserved(1)));
        assert_eq!(process_group(None), Err(GroupError::NoPid));
        assert_eq!(
            process_group(Some(u32::MAX)),
            Err(GroupError::OutOfRange(u32::MAX))
        );
        assert_eq!(
            process_group(Some(1 << 31)),
            Err(GroupError::OutOfRange(1 << 31))
        );
        assert_eq!(process_group(Some(4242)), Ok(Pid::from_raw(4242)));
    }

    #[tokio::test]
    async fn a_job_is_stopped_with_its_group() {
        let mut cmd = Command::new("sh");
        // A child that ignores SIGTERM, and a grandchild in the same group.
        cmd.args(["-c", "trap '' TERM; sleep 30 & sleep 30"]);
        let job = Job::start(cmd, &Console::new(), Source::App).expect("sh starts");
        let group = job.group;
        assert_eq!(group.as_raw(), i32::try_from(job.pid()).expect("a pid"));
        assert_ne!(group, nix::unistd::getpgrp(), "the job has its own group");
        // Both sleeps running: the trap is set, so SIGTERM alone cannot stop them.
        until_members(group, 3).await;
        let status = job.stop(Duration::from_millis(200)).await;
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
        // The whole group is gone (zombies aside, which whoever adopted them reaps).
        until_gone(group, "a stopped job").await;
    }

    /// A job that exits on its own (a crash) takes what it started with it: a leftover would
    /// keep the port the next start needs.
    #[tokio::test]
    async fn a_job_that_exits_takes_its_leftovers_with_it() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 0.3; exit 1"]);
        let mut job = Job::start(cmd, &Console::new(), Source::App).expect("sh starts");
        let group = job.group;
        until_members(group, 2).await;
        let status = job.exited().await;
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
        until_gone(group, "an exited job").await;
    }

    /// Output that is not UTF-8, and a line longer than the piece shown at once, are shown and
    /// the job goes on printing (it used to lose its pipe, and die of SIGPIPE at its next line).
    #[tokio::test]
    async fn output_that_is_not_utf8_does_not_cut_the_jobs_pipe() {
        let mut cmd = Command::new("sh");
        let long = "x".repeat(70_000);
        cmd.args([
            "-c",
            &format!(
                "printf '\\377bad\\n'; echo {long}; for i in 1 2 3; do echo tick$i; sleep 0.05; done"
            ),
        ]);
        let mut job = Job::start(cmd, &Console::new(), Source::App).expect("sh starts");
        let status = job.exited().await;
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !job.last_lines().iter().any(|l| l == "tick3") {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                job.last_lines()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let lines = job.last_lines();
        assert_eq!(
            lines.first().map(String::as_str),
            Some("\u{fffd}bad"),
            "{lines:?}"
        );
        assert_eq!(lines.get(1).map(String::len), Some(65_536), "{lines:?}");
    }

    #[tokio::test]
    async fn a_dropped_job_takes_its_group_with_it() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"]);
        let job = Job::start(cmd, &Console::new(), Source::App).expect("sh starts");
        let group = job.group;
        // The shell and both of its sleeps.
        until_members(group, 3).await;
        drop(job);
        until_gone(group, "a dropped job").await;
    }

    /// Waits up to 5 s for `group` to have `n` live processes.
    async fn until_members(group: Pid, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while live_members(group).len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the group has {:?}, not {n} processes",
                live_members(group)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits up to 5 s for every process of `group` to be gone, else fails naming `what`.
    async fn until_gone(group: Pid, what: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !live_members(group).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "processes of {what}'s group outlived it: {:?}",
                live_members(group)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The pids of the processes in `group` that are not zombies, from `/proc`.
    fn live_members(group: Pid) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
                let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                let (state, pgrp) = (*fields.first()?, fields.get(2)?.parse::<i32>().ok()?);
                (pgrp == group.as_raw() && state != "Z")
                    .then(|| e.file_name().to_string_lossy().into_owned())
            })
            .collect()
    }
}
