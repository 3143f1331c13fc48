//! The `bash` tool's executor: `bash -c COMMAND` in its own process group,
//! with a timeout and a cancel flag, stdout and stderr in one pipe, and the
//! whole group killed when it times out, is cancelled, or when the shell
//! exits and leaves processes behind.
//!
//! The shell's exit is noticed with `waitid(WNOWAIT)`, which leaves it a
//! zombie: its pid, which is also the group's id, cannot be reused until it
//! is reaped, so killing the group then can never hit another process.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::{kill_process_group, waitid, Pid, Signal, WaitId, WaitIdOptions};

use super::error::{Result, ToolError};

/// How often the child, the clock and the cancel flag are looked at.
const POLL: Duration = Duration::from_millis(10);
/// The output kept from the start, and from the end, of a run.
pub const KEEP_BYTES: usize = 1 << 20;
/// How long to wait for the pipe to close once the group is dead (only a
/// process that left the group, e.g. with `setsid`, can keep it open).
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BashExit {
    /// The shell exited with this code.
    Code(i32),
    /// The shell was killed by this signal (not by kchat).
    Signal(i32),
    /// It ran past the timeout (given here) and kchat killed it.
    TimedOut(Duration),
    /// The user interrupted it and kchat killed it.
    Cancelled,
}

/// The result of one command.
#[derive(Debug, Clone)]
pub struct BashRun {
    /// Stdout and stderr as they were written, interleaved, lossy UTF-8.
    /// When more than twice [`KEEP_BYTES`] were written, the first and last
    /// [`KEEP_BYTES`] with a line `[… N bytes of output dropped …]` between.
    pub output: String,
    /// How it ended.
    pub exit: BashExit,
    /// How long it ran.
    pub elapsed: Duration,
    /// How many bytes of output were not kept.
    pub dropped_bytes: u64,
}

impl BashRun {
    /// One line saying how it ended, e.g. `exit code 0`.
    pub fn status_line(&self) -> String {
        match self.exit {
            BashExit::Code(c) => format!("exit code {c}"),
            BashExit::Signal(s) => format!("killed by signal {s}"),
            BashExit::TimedOut(t) => format!(
                "timed out after {}; the process group was killed",
                seconds(t)
            ),
            BashExit::Cancelled => {
                "interrupted by the user; the process group was killed".to_string()
            }
        }
    }
}

/// `10 s`, `1.5 s`, `0.25 s`.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        format!("{} s", s.trim_end_matches('0'))
    }
}

/// Runs `bash -c command` in `cwd`, in its own process group, stdin from
/// `/dev/null`, stdout and stderr into one pipe. Every 10 ms it looks for
/// the shell's exit, `timeout` and `cancel`; on timeout or cancel it kills
/// the whole group with SIGKILL. When the shell exits by itself, whatever it
/// left in its group is killed too, so a background `sleep 100 &` cannot hold
/// the pipe open. The output kept in memory is capped (see [`BashRun`]).
pub fn run(command: &str, cwd: &Path, timeout: Duration, cancel: &AtomicBool) -> Result<BashRun> {
    let spawn_err = |source: io::Error| ToolError::Spawn {
        cwd: cwd.to_path_buf(),
        source,
    };
    // Close-on-exec, so that no other child started meanwhile inherits it.
    let (reader, writer) = pipe_with(PipeFlags::CLOEXEC).map_err(|e| spawn_err(e.into()))?;
    let writer2 = writer.try_clone().map_err(spawn_err)?;
    let reader = File::from(reader);
    let start = Instant::now();
    let mut child = {
        // The command holds the pipe's write ends until it is dropped: it
        // must be gone before reading, or the pipe never reaches its end.
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(command)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer2)
            .process_group(0);
        cmd.spawn().map_err(spawn_err)?
    };
    let pid = Pid::from_child(&child);

    let buffer = Arc::new(Mutex::new(Capped::default()));
    let done = Arc::new(AtomicBool::new(false));
    let drain = {
        let buffer = Arc::clone(&buffer);
        let done = Arc::clone(&done);
        thread::Builder::new()
            .name("kchat-bash-output".into())
            .spawn(move || {
                pump(reader, &buffer);
                done.store(true, Ordering::Release);
            })
    };
    let drain = match drain {
        Ok(handle) => handle,
        Err(e) => {
            kill_and_reap(&mut child, pid);
            return Err(spawn_err(e));
        }
    };

    let exit = loop {
        if shell_exited(&mut child, pid) {
            // Leftovers of the group die with it; the shell is still a
            // zombie holding the group id, so nothing else can be hit.
            let _ = kill_process_group(pid, Signal::KILL);
            let status = child.wait().map_err(spawn_err)?;
            break match (status.code(), status.signal()) {
                (Some(code), _) => BashExit::Code(code),
                (None, Some(sig)) => BashExit::Signal(sig),
                (None, None) => BashExit::Code(-1),
            };
        }
        if cancel.load(Ordering::Relaxed) {
            kill_and_reap(&mut child, pid);
            break BashExit::Cancelled;
        }
        if start.elapsed() >= timeout {
            kill_and_reap(&mut child, pid);
            break BashExit::TimedOut(timeout);
        }
        thread::sleep(POLL);
    };

    // The group is dead, so the pipe closes at once unless a process left
    // the group; then give up on it after a grace (the thread ends when
    // that process closes the pipe).
    let grace = Instant::now();
    while !done.load(Ordering::Acquire) && grace.elapsed() < DRAIN_GRACE {
        thread::sleep(POLL);
    }
    if done.load(Ordering::Acquire) {
        let _ = drain.join();
    }
    let elapsed = start.elapsed();
    let (output, dropped_bytes) = buffer.lock().unwrap_or_else(PoisonError::into_inner).take();
    Ok(BashRun {
        output,
        exit,
        elapsed,
        dropped_bytes,
    })
}

/// Whether the shell has exited, without reaping it.
fn shell_exited(child: &mut Child, pid: Pid) -> bool {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    match waitid(WaitId::Pid(pid), options) {
        Ok(status) => status.is_some(),
        Err(rustix::io::Errno::INTR) => false,
        // Should not happen; then fall back to std, which reaps it.
        Err(_) => !matches!(child.try_wait(), Ok(None)),
    }
}

/// Kills the shell's whole group and reaps the shell.
fn kill_and_reap(child: &mut Child, pid: Pid) {
    let _ = kill_process_group(pid, Signal::KILL);
    let _ = child.wait();
}

/// Reads the pipe into `buffer` until its end.
fn pump(mut reader: File, buffer: &Mutex<Capped>) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Output kept in memory: the first [`KEEP_BYTES`], and the last ones.
#[derive(Debug, Default)]
struct Capped {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
}

impl Capped {
    fn push(&mut self, mut bytes: &[u8]) {
        if self.head.len() < KEEP_BYTES {
            let n = bytes.len().min(KEEP_BYTES - self.head.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= KEEP_BYTES {
            let skip = bytes.len() - KEEP_BYTES;
            self.dropped += (self.tail.len() + skip) as u64;
            self.tail.clear();
            bytes = &bytes[skip..];
        }
        let over = (self.tail.len() + bytes.len()).saturating_sub(KEEP_BYTES);
        self.tail.drain(..over);
        self.dropped += over as u64;
        self.tail.extend(bytes);
    }

    fn take(&mut self) -> (String, u64) {
        let mut bytes = std::mem::take(&mut self.head);
        if self.dropped > 0 {
            if bytes.last() != Some(&b'\n') {
                bytes.push(b'\n');
            }
            bytes.extend_from_slice(
                format!("[… {} bytes of output dropped …]\n", self.dropped).as_bytes(),
            );
        }
        bytes.extend(self.tail.drain(..));
        (String::from_utf8_lossy(&bytes).into_owned(), self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn go(command: &str, dir: &Path, timeout: Duration) -> BashRun {
        run(command, dir, timeout, &AtomicBool::new(false)).expect("run bash")
    }

    /// Whether the process is gone (or a zombie nobody has reaped yet).
    fn dead(pid: &str) -> bool {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => {
                let state = stat.rsplit(')').next().expect("a stat line").trim_start();
                state.starts_with('Z') || state.starts_with('X')
            }
        }
    }

    fn dead_soon(pid: &str) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(2) {
            if dead(pid) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn exit_code_and_interleaved_output() {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = go(
            "echo a; echo b >&2; echo c; exit 3",
            dir.path(),
            Duration::from_secs(10),
        );
        assert_eq!(r.output, "a\nb\nc\n");
        assert_eq!(r.exit, BashExit::Code(3));
        assert_eq!(r.status_line(), "exit code 3");
        assert_eq!(r.dropped_bytes, 0);
        let r = go("pwd; true", dir.path(), Duration::from_secs(10));
        let pwd = fs::canonicalize(dir.path()).expect("canonicalize");
        assert_eq!(r.output.trim_end(), pwd.to_str().expect("a UTF-8 path"));
        assert_eq!(r.exit, BashExit::Code(0));
    }

    #[test]
    fn killed_by_a_signal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = go("kill -TERM $$", dir.path(), Duration::from_secs(10));
        assert_eq!(r.exit, BashExit::Signal(15));
        assert_eq!(r.status_line(), "killed by signal 15");
    }

    #[test]
    fn timeout_kills_the_whole_tree() {
        let dir = tempfile::tempdir().expect("temp dir");
        let t = Instant::now();
        let r = go(
            "sleep 100 & echo $! > pidfile; echo started; wait",
            dir.path(),
            Duration::from_millis(500),
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(r.exit, BashExit::TimedOut(Duration::from_millis(500)));
        assert_eq!(
            r.status_line(),
            "timed out after 0.5 s; the process group was killed"
        );
        assert_eq!(r.output, "started\n");
        let pid = fs::read_to_string(dir.path().join("pidfile")).expect("read the file back");
        assert!(dead_soon(pid.trim()), "sleep {pid} still runs");
    }

    #[test]
    fn cancel_from_another_thread() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cancel = Arc::new(AtomicBool::new(false));
        let setter = {
            let cancel = Arc::clone(&cancel);
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(300));
                cancel.store(true, Ordering::Relaxed);
            })
        };
        let t = Instant::now();
        let r = run(
            "sleep 100 & echo $! > pidfile; sleep 100",
            dir.path(),
            Duration::from_secs(60),
            &cancel,
        )
        .expect("run bash");
        setter.join().expect("the thread");
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(r.exit, BashExit::Cancelled);
        assert_eq!(
            r.status_line(),
            "interrupted by the user; the process group was killed"
        );
        let pid = fs::read_to_string(dir.path().join("pidfile")).expect("read the file back");
        assert!(dead_soon(pid.trim()), "sleep {pid} still runs");
    }

    #[test]
    fn leftover_background_process_does_not_hang() {
        let dir = tempfile::tempdir().expect("temp dir");
        let t = Instant::now();
        let r = go(
            "sleep 100 & echo $! > pidfile; echo done",
            dir.path(),
            Duration::from_secs(60),
        );
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert_eq!(r.exit, BashExit::Code(0));
        assert_eq!(r.output, "done\n");
        let pid = fs::read_to_string(dir.path().join("pidfile")).expect("read the file back");
        assert!(dead_soon(pid.trim()), "sleep {pid} still runs");
    }

    #[test]
    fn escaped_process_holding_the_pipe_does_not_hang() {
        let dir = tempfile::tempdir().expect("temp dir");
        let t = Instant::now();
        let r = go(
            "setsid sleep 3 & echo $! > pidfile; echo done",
            dir.path(),
            Duration::from_secs(60),
        );
        assert!(
            t.elapsed() < Duration::from_millis(2500),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(r.exit, BashExit::Code(0));
        assert_eq!(r.output, "done\n");
    }

    #[test]
    fn endless_output_stays_capped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = go("yes", dir.path(), Duration::from_secs(1));
        assert!(matches!(r.exit, BashExit::TimedOut(_)));
        assert!(r.dropped_bytes > 0);
        assert!(r.output.len() <= 2 * KEEP_BYTES + 100, "{}", r.output.len());
        assert!(r.output.starts_with("y\ny\n"));
        assert!(r.output.contains(&format!(
            "[… {} bytes of output dropped …]\n",
            r.dropped_bytes
        )));
    }

    #[test]
    fn stdin_is_closed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let t = Instant::now();
        let r = go("cat; echo after", dir.path(), Duration::from_secs(10));
        assert!(t.elapsed() < Duration::from_secs(3));
        assert_eq!(r.output, "after\n");
        assert_eq!(r.exit, BashExit::Code(0));
    }

    #[test]
    fn missing_directory_is_a_spawn_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = run(
            "true",
            &dir.path().join("nope"),
            Duration::from_secs(1),
            &AtomicBool::new(false),
        )
        .expect_err("must fail");
        assert!(matches!(err, ToolError::Spawn { .. }), "{err}");
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn capped_keeps_head_and_tail() {
        let mut c = Capped::default();
        let block: Vec<u8> = (0..=255u8).cycle().take(KEEP_BYTES).collect();
        c.push(&block);
        c.push(b"middle");
        c.push(&block[..100]);
        c.push(&block);
        assert_eq!(c.dropped, 106);
        assert_eq!(c.head, block);
        let tail: Vec<u8> = c.tail.iter().copied().collect();
        assert_eq!(tail, block);
        // One push much larger than both halves.
        let mut c = Capped::default();
        let big = vec![b'x'; 3 * KEEP_BYTES + 7];
        c.push(&big);
        assert_eq!(c.dropped, (KEEP_BYTES + 7) as u64);
        let (out, dropped) = c.take();
        assert_eq!(dropped, (KEEP_BYTES + 7) as u64);
        assert!(out.contains("[… 1048583 bytes of output dropped …]\n"));
    }

    #[test]
    fn seconds_format() {
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(250)), "0.25 s");
    }
}
