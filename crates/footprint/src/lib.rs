//! Keeping a process's resident set down to what it is using now.
//!
//! The binaries are static, so all their code and read-only data come from one executable
//! file. The kernel maps file pages in 64 KiB windows (fault-around) and never unmaps them,
//! so after a start-up that runs code spread across the file (libc, OpenSSL and libgit2
//! initialisation, flag parsing) most of the executable counts as resident until exit.
//! [`release_executable_pages`] drops this process's mappings of those pages
//! (`MADV_DONTNEED`): they stay in the page cache and come back on the next access as minor
//! faults, so the only effect is a resident set that reflects the current phase's working set.
//!
//! Only pages that still hold the file's contents are released. The text segment (`r-xp`) is
//! never written, so it is released whole. Read-only data segments (`.rodata`, and RELRO:
//! `.data.rel.ro`, `.got`, which is writable during start-up) may hold pages written then
//! (relocations, resolved ifuncs): private copies that `MADV_DONTNEED` would revert to the file's
//! bytes. There only the pages that `/proc/self/pagemap` shows as still file-backed are released.
//! Writable segments are left alone.

/// One line of `/proc/self/maps`, as far as needed here.
#[derive(Debug, PartialEq, Eq)]
struct Mapping<'a> {
    start: usize,
    end: usize,
    perms: &'a str,
    path: &'a str,
}

fn parse_line(line: &str) -> Option<Mapping<'_>> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let _device = fields.next()?;
    let _inode = fields.next()?;
    let path = fields.next().unwrap_or("");
    Some(Mapping {
        start: usize::from_str_radix(start, 16).ok()?,
        end: usize::from_str_radix(end, 16).ok()?,
        perms,
        path,
    })
}

/// How a mapping of the executable may be released.
#[derive(Debug, PartialEq, Eq)]
enum Release {
    /// Text, never written: all of it.
    Whole(usize, usize),
    /// Read-only data, possibly written during start-up: only pages still backed by the file.
    CleanPages(usize, usize),
}

/// The read-only mappings of the file that holds the code at `here`.
fn releasable(maps: &str, here: usize) -> Vec<Release> {
    let mappings: Vec<Mapping<'_>> = maps.lines().filter_map(parse_line).collect();
    let Some(own) = mappings
        .iter()
        .find(|m| m.perms == "r-xp" && (m.start..m.end).contains(&here) && m.path.starts_with('/'))
    else {
        return Vec::new();
    };
    mappings
        .iter()
        .filter(|m| m.path == own.path)
        .filter_map(|m| match m.perms {
            "r-xp" => Some(Release::Whole(m.start, m.end - m.start)),
            "r--p" => Some(Release::CleanPages(m.start, m.end - m.start)),
            _ => None,
        })
        .collect()
}

/// `/proc/self/pagemap` bits: page present, and page is file-backed (not a private copy).
const PM_PRESENT: u64 = 1 << 63;
const PM_FILE: u64 = 1 << 61;

/// Runs of pages in `[start, start+len)` that are resident and still the file's.
fn clean_runs(pagemap: &[u64], start: usize, page: usize) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, e) in pagemap.iter().enumerate() {
        if e & PM_PRESENT == 0 || e & PM_FILE == 0 {
            continue;
        }
        let addr = start + i * page;
        match runs.last_mut() {
            Some((s, l)) if *s + *l == addr => *l += page,
            _ => runs.push((addr, page)),
        }
    }
    runs
}

fn read_pagemap(start: usize, len: usize, page: usize) -> Option<Vec<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open("/proc/self/pagemap").ok()?;
    f.seek(SeekFrom::Start((start / page * 8) as u64)).ok()?;
    let mut raw = vec![0u8; len / page * 8];
    f.read_exact(&mut raw).ok()?;
    Some(
        raw.chunks_exact(8)
            .map(|c| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
    )
}

fn dontneed(start: usize, len: usize) {
    // SAFETY: callers pass whole pages of a read-only private mapping of the executable that
    // hold the file's bytes; dropped pages are read back from the file on the next access.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
    }
}

/// Unmaps this process's pages of its executable's text and read-only data; best effort,
/// silent on failure. Safe to call at any time and any number of times.
pub fn release_executable_pages() {
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        release_executable_in(&maps);
    }
}

/// [`release_executable_pages`], plus the pages of read-only shared file mappings (libgit2's
/// pack windows), with one read of `/proc/self/maps`. Best effort, silent on failure.
pub fn release_mapped_pages() {
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        release_executable_in(&maps);
        release_shared_in(&maps);
    }
}

fn release_executable_in(maps: &str) {
    let here = release_executable_pages as *const () as usize;
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    for r in releasable(maps, here) {
        match r {
            Release::Whole(start, len) => dontneed(start, len),
            Release::CleanPages(start, len) => {
                if let Some(pm) = read_pagemap(start, len, page) {
                    for (s, l) in clean_runs(&pm, start, page) {
                        dontneed(s, l);
                    }
                }
            }
        }
    }
}

/// Returns free heap memory to the kernel (`malloc_trim`): after a phase that allocated much
/// and freed it in scattered chunks (libgit2's pack indexer), glibc keeps those pages.
pub fn release_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Everything this process holds but is not using between two phases of its work: free heap
/// pages, code and read-only data, read-only file mappings.
pub fn release_between_phases() {
    release_heap();
    release_mapped_pages();
}

/// Read-only shared file mappings (`r--s`): the files a library maps to read, such as
/// libgit2's pack and pack index windows.
fn shared_read_only(maps: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(parse_line)
        .filter(|m| m.perms == "r--s" && m.path.starts_with('/'))
        .map(|m| (m.start, m.end - m.start))
        .collect()
}

/// Unmaps this process's pages of read-only shared file mappings (libgit2's pack windows):
/// they are never written through, so they come back from the page cache on the next read.
fn release_shared_in(maps: &str) {
    for (start, len) in shared_read_only(maps) {
        // SAFETY: a read-only shared mapping of a file: dropping its pages loses nothing.
        unsafe {
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
00200000-003d4000 r--p 00000000 fe:00 57 /usr/bin/git-init
003d4000-008e8000 r-xp 001d3000 fe:00 57 /usr/bin/git-init
008e8000-00966000 r--p 006e6000 fe:00 57 /usr/bin/git-init
00966000-00973000 rw-p 00763000 fe:00 57 /usr/bin/git-init
00973000-0097e000 rw-p 00000000 00:00 0
2f6c3000-2f7c9000 rw-p 00000000 00:00 0                                  [heap]
7fe6d3ce5000-7fe6d3cf7000 r--s 00000000 fe:00 5765115 /w/c/.git/objects/pack/p.idx
7fe6d3d08000-7fe6d3d0a000 r-xp 00000000 00:00 0                          [vdso]
";

    #[test]
    fn releases_read_only_mappings_of_the_own_file_only() {
        assert_eq!(
            releasable(MAPS, 0x400000),
            vec![
                Release::CleanPages(0x200000, 0x1d4000),
                Release::Whole(0x3d4000, 0x514000),
                Release::CleanPages(0x8e8000, 0x7e000),
            ]
        );
    }

    #[test]
    fn shared_read_only_file_mappings_are_the_pack_windows() {
        assert_eq!(shared_read_only(MAPS), vec![(0x7fe6d3ce5000, 0x12000)]);
    }

    #[test]
    fn shared_file_pages_read_back_after_release() {
        use std::io::Write as _;
        let dir = std::env::temp_dir().join(format!("footprint-{}", std::process::id()));
        let mut f = std::fs::File::create(&dir).unwrap();
        f.write_all(&[7u8; 8192]).unwrap();
        let f = std::fs::File::open(&dir).unwrap();
        // SAFETY: a fresh read-only shared mapping of an 8 KiB file, unmapped below.
        unsafe {
            use std::os::fd::AsRawFd as _;
            let p = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            let bytes = std::slice::from_raw_parts(p as *const u8, 8192);
            assert_eq!(bytes[8191], 7);
            release_mapped_pages();
            assert_eq!(bytes.iter().map(|&b| b as usize).sum::<usize>(), 7 * 8192);
            libc::munmap(p, 8192);
        }
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn only_resident_file_pages_are_clean() {
        let present_file = PM_PRESENT | PM_FILE;
        let pm = [
            present_file,
            present_file,
            PM_PRESENT,
            0,
            present_file,
            PM_FILE,
        ];
        assert_eq!(
            clean_runs(&pm, 0x1000, 0x1000),
            vec![(0x1000, 0x2000), (0x5000, 0x1000)]
        );
    }

    #[test]
    fn nothing_when_the_code_is_not_in_a_file_mapping() {
        assert!(releasable(MAPS, 0x7fe6d3d08010).is_empty());
        assert!(releasable(MAPS, 0x10).is_empty());
    }

    #[test]
    fn code_and_constants_keep_working_after_release() {
        static TABLE: [u32; 4] = [1, 2, 3, 5];
        // A vtable-holding static lives in .data.rel.ro, which is released page by page.
        static SHOWN: &[&(dyn std::fmt::Display + Sync)] = &[&40, &2];
        release_executable_pages();
        release_executable_pages();
        assert_eq!(format!("{}", TABLE.iter().sum::<u32>() + 31), "42");
        assert_eq!(format!("{}{}", SHOWN[0], SHOWN[1]), "402");
    }
}
