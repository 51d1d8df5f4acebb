//! What the process-running executors (`shell`, `docker`) share: a child's
//! stdout and stderr captured together in arrival order, bounded to
//! [`MAX_OUTPUT_BYTES`] with a note of how much was dropped, and killing the
//! process group the child was started in.

use std::sync::{Arc, Mutex};

use conveyor_shared::executor::MAX_OUTPUT_BYTES;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

/// Which end of a long output is kept: the start for a job's own output, the
/// end for a build, whose error is on its last lines.
#[derive(Clone, Copy)]
pub(super) enum Keep {
    Head,
    Tail,
}

/// The captured output of one child process. Each [`spawn_pump`] starts a task
/// that copies a stream into a shared buffer until the stream ends;
/// [`finish`] waits for those tasks and returns the text. Dropping a
/// `Capture` without finishing leaves the tasks running until their streams
/// close (when the child and everything holding its pipes have exited).
///
/// [`spawn_pump`]: Capture::spawn_pump
/// [`finish`]: Capture::finish
pub(super) struct Capture {
    buffer: Arc<Mutex<Bounded>>,
    pumps: Vec<JoinHandle<()>>,
}

impl Capture {
    pub(super) fn new(keep: Keep) -> Self {
        Self {
            buffer: Arc::new(Mutex::new(Bounded::new(keep))),
            pumps: Vec::new(),
        }
    }

    /// Copies `stream` into the capture, interleaved with the other streams
    /// in arrival order. A read error ends the copy like end of stream.
    pub(super) fn spawn_pump(&mut self, mut stream: impl AsyncRead + Unpin + Send + 'static) {
        let sink = self.buffer.clone();
        self.pumps.push(tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => sink
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(&buf[..n]),
                }
            }
        }));
    }

    /// Waits until every pumped stream has ended, then returns the output
    /// (`None` if there was none). Kill the process group first, or a
    /// background child holding a pipe open keeps this waiting.
    pub(super) async fn finish(self) -> Option<String> {
        for pump in self.pumps {
            let _ = pump.await;
        }
        self.buffer.lock().unwrap_or_else(|e| e.into_inner()).text()
    }
}

/// Kills the process group led by `pid` (a child spawned with
/// `process_group(0)`), so nothing it started outlives it.
pub(super) fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // ESRCH (group already gone) is the normal case after a clean exit.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Output bytes bounded to [`MAX_OUTPUT_BYTES`], counting what was dropped.
struct Bounded {
    keep: Keep,
    bytes: Vec<u8>,
    dropped: usize,
}

impl Bounded {
    fn new(keep: Keep) -> Self {
        Self {
            keep,
            bytes: Vec::new(),
            dropped: 0,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        match self.keep {
            Keep::Head => {
                let room = MAX_OUTPUT_BYTES.saturating_sub(self.bytes.len());
                let take = room.min(chunk.len());
                self.bytes.extend_from_slice(&chunk[..take]);
                self.dropped += chunk.len() - take;
            }
            Keep::Tail => {
                self.bytes.extend_from_slice(chunk);
                // Trim in batches rather than on every chunk.
                if self.bytes.len() > 2 * MAX_OUTPUT_BYTES {
                    let excess = self.bytes.len() - MAX_OUTPUT_BYTES;
                    self.bytes.drain(..excess);
                    self.dropped += excess;
                }
            }
        }
    }

    fn text(&self) -> Option<String> {
        if self.bytes.is_empty() {
            return None;
        }
        let excess = self.bytes.len().saturating_sub(MAX_OUTPUT_BYTES);
        let dropped = self.dropped + excess;
        match self.keep {
            Keep::Head => {
                let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
                if dropped > 0 {
                    text.push_str(&format!("\n… [{dropped} bytes truncated]"));
                }
                Some(text)
            }
            Keep::Tail => {
                let tail = String::from_utf8_lossy(&self.bytes[excess..]);
                if dropped > 0 {
                    Some(format!("[{dropped} bytes truncated] …\n{tail}"))
                } else {
                    Some(tail.into_owned())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_keeps_its_end_and_job_output_its_start() {
        let mut tail = Bounded::new(Keep::Tail);
        let mut head = Bounded::new(Keep::Head);
        for chunk in [
            b"first line\n".as_slice(),
            &[b'x'; 3 * MAX_OUTPUT_BYTES],
            b"\nERROR: last line",
        ] {
            tail.push(chunk);
            head.push(chunk);
        }
        let tail = tail.text().unwrap();
        assert!(tail.ends_with("ERROR: last line") && !tail.contains("first line"));
        assert!(tail.len() < MAX_OUTPUT_BYTES + 100, "{}", tail.len());
        let head = head.text().unwrap();
        assert!(head.starts_with("first line") && !head.contains("ERROR"));
        assert!(head.len() < MAX_OUTPUT_BYTES + 100, "{}", head.len());
    }
}
