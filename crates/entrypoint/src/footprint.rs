//! Keeping the resident footprint small while a step waits.
//!
//! A step container may wait for minutes with nothing to do. Start-up code (flag parsing,
//! credentials, libc init) is spread across the executable, and the kernel's fault-around maps
//! whole 64 KiB windows of it, so after start-up most of the text segment is mapped. Before
//! blocking, the waiter unmaps the executable's text pages from this process
//! (`MADV_DONTNEED` on the `r-xp` mapping of the binary): they stay in the page cache and are
//! mapped back on demand, so this only lowers the process's RSS. Text is never written (the
//! binary has no text relocations), so nothing is lost. Data and relocated segments are not
//! touched.

use std::sync::atomic::{AtomicBool, Ordering};

static DONE: AtomicBool = AtomicBool::new(false);

/// Unmaps this executable's text pages once per process; best effort, silent on failure.
pub fn release_text_pages() {
    if DONE.swap(true, Ordering::Relaxed) {
        return;
    }
    let here = release_text_pages as *const () as usize;
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // Only the private, read+execute file mapping that holds this very function.
        if perms == "r-xp" && (start..end).contains(&here) {
            // SAFETY: the range is a whole mapping of unmodified, file-backed text; dropped
            // pages are faulted back in from the file on the next access.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn code_keeps_running_after_release() {
        super::release_text_pages();
        super::release_text_pages();
        assert_eq!(format!("{}", 40 + 2), "42");
    }
}
