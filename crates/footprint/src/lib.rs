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
//! Only the mappings that are never written are released: the text segment (`r-xp`) and the
//! read-only segment at file offset 0 (ELF headers, `.rodata`, `.eh_frame`). Relocated or
//! writable segments hold private modified copies that `MADV_DONTNEED` would revert to the
//! file's contents, so they are left alone.

/// One line of `/proc/self/maps`, as far as needed here.
#[derive(Debug, PartialEq, Eq)]
struct Mapping<'a> {
    start: usize,
    end: usize,
    perms: &'a str,
    offset: u64,
    path: &'a str,
}

fn parse_line(line: &str) -> Option<Mapping<'_>> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?;
    let offset = u64::from_str_radix(fields.next()?, 16).ok()?;
    let _device = fields.next()?;
    let _inode = fields.next()?;
    let path = fields.next().unwrap_or("");
    Some(Mapping {
        start: usize::from_str_radix(start, 16).ok()?,
        end: usize::from_str_radix(end, 16).ok()?,
        perms,
        offset,
        path,
    })
}

/// The never-written mappings of the file that holds the code at `here`.
fn releasable(maps: &str, here: usize) -> Vec<(usize, usize)> {
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
        .filter(|m| m.perms == "r-xp" || (m.perms == "r--p" && m.offset == 0))
        .map(|m| (m.start, m.end - m.start))
        .collect()
}

/// Unmaps this process's pages of its executable's text and read-only data; best effort,
/// silent on failure. Safe to call at any time and any number of times.
pub fn release_executable_pages() {
    let here = release_executable_pages as *const () as usize;
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for (start, len) in releasable(&maps, here) {
        // SAFETY: the range is a whole private file mapping that is never written (text or
        // the read-only segment at offset 0); dropped pages are read back from the file on the
        // next access.
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
    fn releases_text_and_rodata_of_the_own_file_only() {
        assert_eq!(
            releasable(MAPS, 0x400000),
            vec![(0x200000, 0x1d4000), (0x3d4000, 0x514000)]
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
        release_executable_pages();
        release_executable_pages();
        assert_eq!(format!("{}", TABLE.iter().sum::<u32>() + 31), "42");
    }
}
