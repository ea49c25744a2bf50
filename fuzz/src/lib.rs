//! Helpers shared by the fuzz targets in `fuzz_targets/` (see docs/fuzzing.md).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A per-process scratch directory for targets whose parser reads a file (ssh config,
/// known_hosts, `.git-credentials`, result files). Under `$TMPDIR`, which `make fuzz` points
/// at `fuzz/target/tmp` and removes afterwards; the process never deletes it itself because
/// libFuzzer ends it with `exit`.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("stepkit-fuzz-")
            .tempdir()
            .expect("create the fuzz scratch directory")
            .keep();
        // The parsers under test also look at XDG_CONFIG_HOME; keep them inside the scratch
        // directory. Set once, before any target code runs, while the process is one thread.
        unsafe { std::env::set_var("XDG_CONFIG_HOME", dir.join("xdg")) };
        dir
    })
}

/// Writes `content` to `path` (creating its directory), for a parser to read back.
pub fn put(path: &Path, content: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create a fuzz scratch subdirectory");
    }
    std::fs::write(path, content).expect("write a fuzz input file");
}

/// Splits `data` at the first `n - 1` NUL bytes into exactly `n` parts (missing ones empty).
pub fn split_nul(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(n, |&b| b == 0).collect();
    parts.resize(n, &[]);
    parts
}
