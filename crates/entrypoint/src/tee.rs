//! Copying the step's stdout/stderr to the console and to `-stdout_path`/`-stderr_path`.
//!
//! Each stream is copied by a thread of its own, so a console nobody reads (a log collector
//! that stalled, a full pipe) blocks only that thread: the lifecycle loop in [`crate::run`]
//! keeps timing out, cancelling and forwarding signals on time. A chunk goes to the file before
//! the console, so a stalled console never holds back the file copy of what was already read.
//!
//! A failed file write ends that stream's copy, like upstream's `io.MultiWriter` inside
//! `exec.Cmd`'s copy goroutine: the chunk still reaches the console (upstream writes it there
//! first), then the pipe's read end is closed, so the command's next write to it gets `EPIPE`
//! (or `SIGPIPE`), and the first such error (`write <path>: <errno>`) is kept for the step's
//! outcome ([`Tee::stop`]): Go's `Wait` reports it when the command itself exited 0.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use crate::sys;

/// Reads per stream once asked to stop: what is buffered now goes out, an endless writer
/// cannot keep the copier alive.
const MAX_READS_AFTER_STOP: usize = 64;
/// A copier needs little stack (its buffer is on the heap); keeps the footprint small.
const COPIER_STACK: usize = 64 * 1024;

/// One stream to copy: the read end of the child's pipe (non-blocking), the console fd, the file.
pub struct Stream {
    pub pipe: OwnedFd,
    pub console: RawFd,
    pub file: File,
    /// The file's path as given (`-stdout_path`/`-stderr_path`), for the error text.
    pub path: String,
}

/// The running copiers.
pub struct Tee {
    stops: Vec<OwnedFd>,
    finished: Vec<Arc<AtomicBool>>,
    /// Readable (hang-up) once every copier has finished.
    done: OwnedFd,
    started: Instant,
    /// Nanoseconds after `started` of the last chunk copied.
    last_data: Arc<AtomicU64>,
    /// The first failed file write, as Go's `*PathError` text.
    error: Arc<Mutex<Option<String>>>,
}

impl Tee {
    /// Starts one copier thread per stream.
    pub fn start(streams: Vec<Stream>) -> Result<Tee, String> {
        let (done, done_w) = crate::run::pipe()?;
        let started = Instant::now();
        let last_data = Arc::new(AtomicU64::new(0));
        let mut tee = Tee {
            stops: Vec::new(),
            finished: Vec::new(),
            done,
            started,
            last_data: last_data.clone(),
            error: Arc::default(),
        };
        for stream in streams {
            let (stop_r, stop_w) = crate::run::pipe()?;
            let done_w = done_w
                .try_clone()
                .map_err(|e| format!("dup: {}", gocompat::fs::io_error_text(&e)))?;
            let finished = Arc::new(AtomicBool::new(false));
            let copier = Copier {
                stream,
                stop: stop_r,
                _done: done_w,
                finished: finished.clone(),
                started,
                last_data: last_data.clone(),
                error: tee.error.clone(),
            };
            std::thread::Builder::new()
                .name("tee".into())
                .stack_size(COPIER_STACK)
                .spawn(move || copier.run())
                .map_err(|e| format!("tee thread: {}", gocompat::fs::io_error_text(&e)))?;
            tee.stops.push(stop_w);
            tee.finished.push(finished);
        }
        Ok(tee)
    }

    /// Becomes readable once every stream reached EOF (or its copier stopped).
    pub fn done_fd(&self) -> RawFd {
        self.done.as_raw_fd()
    }

    pub fn all_finished(&self) -> bool {
        self.finished.iter().all(|f| f.load(Ordering::Acquire))
    }

    /// When a chunk was last copied (the start if none was).
    pub fn last_data(&self) -> Instant {
        self.started + Duration::from_nanos(self.last_data.load(Ordering::Acquire))
    }

    /// Asks every copier to copy what is buffered now and end, and waits for that up to `wait`
    /// (a copier stuck on a console nobody reads is left behind; process exit ends it).
    /// Returns the first file write that failed (and ended its stream's copy).
    pub fn stop(mut self, wait: Duration) -> Option<String> {
        self.stops.clear();
        let deadline = Instant::now() + wait;
        while !self.finished.iter().all(|f| f.load(Ordering::Acquire)) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            sys::poll_readable(&[self.done.as_raw_fd()], Some(deadline - now));
        }
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

struct Copier {
    stream: Stream,
    /// Hangs up when the supervisor asks to stop.
    stop: OwnedFd,
    /// Dropped when this copier ends: the supervisor's `done` fd hangs up after the last one.
    _done: OwnedFd,
    finished: Arc<AtomicBool>,
    started: Instant,
    last_data: Arc<AtomicU64>,
    error: Arc<Mutex<Option<String>>>,
}

enum Read {
    Data(usize),
    Nothing,
    Closed,
}

impl Copier {
    fn run(mut self) {
        let mut buf = vec![0u8; 32 * 1024];
        let fds = [self.stream.pipe.as_raw_fd(), self.stop.as_raw_fd()];
        loop {
            let ready = sys::poll_readable(&fds, None);
            if ready[1] {
                for _ in 0..MAX_READS_AFTER_STOP {
                    match self.read(&mut buf) {
                        Read::Data(n) if self.copy(&buf[..n]) => {}
                        _ => break,
                    }
                }
                break;
            }
            if ready[0] {
                match self.read(&mut buf) {
                    Read::Data(n) if !self.copy(&buf[..n]) => break,
                    Read::Data(_) | Read::Nothing => {}
                    Read::Closed => break,
                }
            }
        }
        // Closes the read end: after a write error the command's next write fails (EPIPE).
        drop(self.stream.pipe);
        self.finished.store(true, Ordering::Release);
    }

    fn read(&self, buf: &mut [u8]) -> Read {
        match nix::unistd::read(&self.stream.pipe, buf) {
            Ok(0) => Read::Closed,
            Ok(n) => Read::Data(n),
            Err(Errno::EAGAIN | Errno::EINTR) => Read::Nothing,
            Err(_) => Read::Closed,
        }
    }

    /// File first, then the console; false (copy over) if the file write failed.
    fn copy(&mut self, chunk: &[u8]) -> bool {
        let written = self.stream.file.write_all(chunk);
        golog::sink::write_all_fd(self.stream.console, chunk);
        let nanos = self.started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.last_data.store(nanos, Ordering::Release);
        let Err(e) = written else { return true };
        if let Ok(mut first) = self.error.lock() {
            first.get_or_insert_with(|| gocompat::fs::path_error("write", &self.stream.path, &e));
        }
        false
    }
}
