//! Log lines that cannot block the caller on a stderr nobody reads.
//!
//! The entrypoint logs from the thread that also writes post files and exits; if its stderr is
//! a pipe whose reader stalled (full pipe), a plain `write` would hold that thread forever and
//! the next step would never start. Making fd 2 non-blocking is not an option: the step's
//! command inherits the same open file description (same flags) and would start seeing
//! `EAGAIN` on its own writes. So once [`install`] is called, every [`crate::log`] line goes
//! to one writer thread through a bounded queue, and the caller waits for its own line only
//! up to [`LINE_WAIT`] (not at all while the writer is known to be stuck). A line that finds
//! the queue full is dropped and counted; once the writer catches up it reports the count in
//! one extra line. With a stderr that is read normally every line is written, in order and
//! byte-identical, before `log` returns. [`flush`] waits (bounded) for the queue before exit.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a caller waits for its line to reach stderr.
pub const LINE_WAIT: Duration = Duration::from_millis(200);
/// Lines waiting for the writer at most; more are dropped (and counted).
const MAX_QUEUED: usize = 256;
/// The writer only makes `write` calls.
const WRITER_STACK: usize = 64 * 1024;

#[derive(Default)]
struct State {
    queue: VecDeque<Vec<u8>>,
    /// Lines queued so far (sequence number of the last one).
    queued: u64,
    /// Lines the writer finished (written or failed).
    written: u64,
    dropped: u64,
    /// A caller gave up waiting and the writer has not finished a line since.
    stuck: bool,
}

struct Sink {
    state: Mutex<State>,
    changed: Condvar,
}

static SINK: OnceLock<Sink> = OnceLock::new();
/// Set once the writer thread runs.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Routes [`crate::log`] through the writer thread from now on. Threads inherit the caller's
/// signal mask: call it after blocking the signals a signalfd is to receive. Returns false
/// (and logging stays direct) if the thread cannot be started.
pub fn install() -> bool {
    if ACTIVE.load(Ordering::Acquire) {
        return true;
    }
    let sink = SINK.get_or_init(|| Sink {
        state: Mutex::new(State::default()),
        changed: Condvar::new(),
    });
    let started = std::thread::Builder::new()
        .name("log".into())
        .stack_size(WRITER_STACK)
        .spawn(move || writer(sink));
    if started.is_ok() {
        ACTIVE.store(true, Ordering::Release);
    }
    started.is_ok()
}

/// Hands `line` to the writer; `false` if no writer is installed (the caller writes itself).
pub(crate) fn submit(line: Vec<u8>) -> bool {
    let Some(sink) = SINK.get().filter(|_| ACTIVE.load(Ordering::Acquire)) else {
        return false;
    };
    let Ok(mut st) = sink.state.lock() else {
        return true;
    };
    if st.queue.len() >= MAX_QUEUED {
        st.dropped += 1;
        return true;
    }
    st.queue.push_back(line);
    st.queued += 1;
    let mine = st.queued;
    sink.changed.notify_all();
    if st.stuck {
        return true;
    }
    let Ok((mut st, waited)) = sink
        .changed
        .wait_timeout_while(st, LINE_WAIT, |s| s.written < mine)
    else {
        return true;
    };
    if waited.timed_out() {
        st.stuck = true;
    }
    true
}

/// Waits up to `limit` for every queued line to be written (before the process exits).
pub fn flush(limit: Duration) {
    let Some(sink) = SINK.get().filter(|_| ACTIVE.load(Ordering::Acquire)) else {
        return;
    };
    let Ok(st) = sink.state.lock() else { return };
    let deadline = Instant::now() + limit;
    let _ = sink.changed.wait_timeout_while(st, limit, |s| {
        s.written < s.queued && Instant::now() < deadline
    });
}

fn writer(sink: &'static Sink) {
    loop {
        let line = {
            let Ok(st) = sink.state.lock() else { return };
            let Ok(mut st) = sink.changed.wait_while(st, |s| s.queue.is_empty()) else {
                return;
            };
            match st.queue.pop_front() {
                Some(l) => l,
                None => continue,
            }
        };
        write_stderr(&line);
        let Ok(mut st) = sink.state.lock() else {
            return;
        };
        st.written += 1;
        st.stuck = false;
        if st.dropped > 0 && st.queue.is_empty() {
            let note = format!(
                "{} {} log lines dropped: stderr was not being read\n",
                crate::LocalTime::now().log_stamp(),
                st.dropped
            );
            st.dropped = 0;
            st.queue.push_back(note.into_bytes());
            st.queued += 1;
        }
        sink.changed.notify_all();
    }
}

/// Blocking write of all of `data` to fd 2 (no std lock: nothing else can wait behind it).
pub(crate) fn write_stderr(data: &[u8]) {
    write_all_fd(2, data);
}

/// Blocking write of all of `data` to `fd`, retrying on EINTR; a failed write is dropped, as
/// there is nowhere to report it (the console and stderr of a step).
pub fn write_all_fd(fd: std::os::fd::RawFd, data: &[u8]) {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` stays open for the call; ManuallyDrop keeps the File from closing it.
    let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let _ = file.write_all(data);
}
