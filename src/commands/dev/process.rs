//! A child process as one job, as watchexec's supervisor treats it: started in its own process
//! group with its output prefixed on the console, stopped gracefully (SIGTERM to the group,
//! then SIGKILL after a grace period), and watched for an exit of its own.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use super::console::{Console, Source};

/// A running child in its own process group.
pub struct Job {
    child: Child,
    pid: u32,
}

impl Job {
    /// Starts `cmd` in a new process group, copying its output to the console as `source`.
    pub fn start(mut cmd: Command, console: &Console, source: Source) -> std::io::Result<Self> {
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);
        if let Some(out) = child.stdout.take() {
            let console = console.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    console.line(source, &l);
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            let console = console.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    console.line(source, &l);
                }
            });
        }
        Ok(Self { child, pid })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resolves when the process exits on its own.
    pub async fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.wait().await.ok()
    }

    /// Whether it has exited, without waiting.
    pub fn try_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the whole group, wait up to `grace`, then SIGKILL the group.
    pub async fn stop(mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let group = Pid::from_raw(i32::try_from(self.pid).unwrap_or(0));
        if self.try_exited().is_none() {
            let _ = killpg(group, Signal::SIGTERM);
        }
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(s) => s.ok(),
            Err(_) => {
                let _ = killpg(group, Signal::SIGKILL);
                self.child.wait().await.ok()
            }
        };
        // Anything the process left in its group goes too.
        let _ = killpg(group, Signal::SIGKILL);
        status
    }
}
