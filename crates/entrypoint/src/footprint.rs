//! Keeping the resident footprint small while a step waits: a step may wait for minutes, so
//! before blocking the waiter drops its mappings of the executable's code and constants (see
//! the `footprint` crate). Once per process: later waits find them released already or needed.
//!
//! Only mapped file pages go (RssAnon and the cgroup's charge stay): PSS of a lone waiter 1.44
//! vs 1.91 MiB, of three 0.52–0.57 vs 0.70 MiB each, of twenty 166 vs 182 KiB each.

use std::sync::atomic::{AtomicBool, Ordering};

static DONE: AtomicBool = AtomicBool::new(false);

/// Releases the executable's text and read-only pages, the first time only.
pub fn release_text_pages() {
    if !DONE.swap(true, Ordering::Relaxed) {
        footprint::release_executable_pages();
    }
}
