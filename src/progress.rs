//! Progress of a long write on stderr: one line rewritten in place on a
//! terminal, or a line every few seconds when stderr is a file or pipe.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Counts bytes written and reports them with the rate.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    tty: bool,
    total: u64,
    done: u64,
    start: Instant,
    last: Instant,
}

impl Progress {
    /// A report of `total` bytes; silent unless stderr is a terminal or
    /// `large` asks for periodic lines anyway.
    pub fn new(total: u64, large: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let now = Instant::now();
        Progress {
            enabled: tty || large,
            tty,
            total,
            done: 0,
            start: now,
            last: now,
        }
    }

    /// Records `n` more bytes written, printing when it is time.
    pub fn add(&mut self, n: u64) {
        self.done += n;
        if !self.enabled {
            return;
        }
        let every = if self.tty {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(10)
        };
        if self.last.elapsed() >= every {
            self.last = Instant::now();
            self.print(false);
        }
    }

    /// Prints the final line (when enabled).
    pub fn finish(&mut self) {
        if self.enabled {
            self.print(true);
        }
    }

    fn print(&self, last: bool) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let pct = if self.total == 0 {
            100.0
        } else {
            100.0 * self.done as f64 / self.total as f64
        };
        let line = format!(
            "  {:>9.1} / {:.1} MB ({pct:5.1}%)  {:>6.0} MB/s  {secs:6.1} s",
            self.done as f64 / 1e6,
            self.total as f64 / 1e6,
            self.done as f64 / 1e6 / secs
        );
        let mut err = std::io::stderr().lock();
        // Progress output is best effort: a closed stderr must not stop the write.
        let _ = if self.tty {
            write!(err, "\r{line}{}", if last { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}
