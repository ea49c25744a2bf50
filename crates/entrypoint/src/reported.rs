//! Per-step task results (docs/contract.md §2.3, **Deviation**): a step's termination message
//! carries only the task results it created or changed, so results spread over many steps no
//! longer overflow 4096 bytes.
//!
//! The controller merges task results over the steps' messages, the last step's value winning
//! (`removeDuplicateResults`), so leaving out a value the controller already has from an
//! earlier step changes nothing. Each step records, in its run directory
//! (`/tekton/run/<i>/task-results.sha256`, written whole), the SHA-256 of the value the
//! controller holds for each task result after this step: its predecessor's record updated
//! with what it reported. A step reports a result when its value's hash differs from its
//! predecessor's record. No record from step `i-1` (upstream's entrypoint, a skipped or failed
//! step, a step without results): everything is reported, as upstream does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gocompat::files;
use sha2::{Digest, Sha256};
use termination::RunResult;

/// The record's name in a step's run directory.
pub const FILE_NAME: &str = "task-results.sha256";

/// Records hold one line per result name: bounded far above any real record.
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// Task result name → SHA-256 of the value the controller holds for it.
pub type Record = BTreeMap<String, [u8; 32]>;

/// Where step `i` and step `i-1` keep their records, from the step's post file
/// (`<tekton>/run/<i>/out`): `None` when its directory is not named by a step index (no
/// per-step filtering then).
pub fn paths(post_file: &str) -> Option<(PathBuf, Option<PathBuf>)> {
    let run_dir = Path::new(post_file).parent()?;
    let index: usize = run_dir.file_name()?.to_str()?.parse().ok()?;
    let own = run_dir.join(FILE_NAME);
    let previous = index
        .checked_sub(1)
        .and_then(|i| Some(run_dir.parent()?.join(i.to_string()).join(FILE_NAME)));
    Some((own, previous))
}

/// The predecessor's record: empty for step 0, `None` when it has none or it does not parse
/// (report everything).
pub fn load(previous: Option<&Path>) -> Option<Record> {
    let Some(path) = previous else {
        return Some(Record::new());
    };
    let data = files::read_bounded(path, MAX_RECORD_BYTES).ok()?;
    let text = std::str::from_utf8(&data).ok()?;
    let mut record = Record::new();
    for line in text.lines() {
        let (hash, name) = line.split_once("  ")?;
        record.insert(name.to_string(), decode_hex(hash)?);
    }
    Some(record)
}

/// Keeps the entries whose value differs from `record`'s, and adds them to `record`.
pub fn changed(entries: Vec<RunResult>, record: &mut Record) -> Vec<RunResult> {
    entries
        .into_iter()
        .filter(|entry| {
            let hash: [u8; 32] = Sha256::digest(&entry.value).into();
            // A name that cannot be a record line is always reported, never recorded.
            if entry.key.contains('\n') || entry.key.is_empty() {
                return true;
            }
            record.insert(entry.key.clone(), hash) != Some(hash)
        })
        .collect()
}

/// Writes the record whole (a reader sees the old state or the new one, never half).
pub fn save(path: &Path, record: &Record) -> Result<(), String> {
    let mut text = String::new();
    for (name, hash) in record {
        for b in hash {
            text.push_str(&format!("{b:02x}"));
        }
        text.push_str("  ");
        text.push_str(name);
        text.push('\n');
    }
    files::write_whole(path, text.as_bytes(), files::Mode::Umask(0o666), false)
        .map_err(|e| e.path_text(path))
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(key: &str, value: &str) -> RunResult {
        RunResult::new(key, value, termination::TASK_RUN_RESULT)
    }

    #[test]
    fn paths_from_post_file() {
        let (own, prev) = paths("/tekton/run/3/out").unwrap();
        assert_eq!(own, Path::new("/tekton/run/3/task-results.sha256"));
        assert_eq!(
            prev.as_deref(),
            Some(Path::new("/tekton/run/2/task-results.sha256"))
        );
        assert_eq!(paths("/tekton/run/0/out").unwrap().1, None);
        assert_eq!(paths("/tmp/x/out"), None);
        assert_eq!(paths(""), None);
        assert_eq!(paths("out"), None);
    }

    #[test]
    fn only_changes_are_reported_and_the_record_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(FILE_NAME);
        let mut record = load(None).unwrap();
        let first = changed(vec![r("a", "1"), r("b", "2")], &mut record);
        assert_eq!(first.len(), 2);
        save(&path, &record).unwrap();

        let mut next = load(Some(&path)).unwrap();
        assert_eq!(next, record);
        let second = changed(vec![r("a", "1"), r("b", "3"), r("c", "")], &mut next);
        assert_eq!(second, vec![r("b", "3"), r("c", "")]);
        // Back to an earlier value is still a change against the predecessor.
        let third = changed(vec![r("b", "2")], &mut next);
        assert_eq!(third, vec![r("b", "2")]);
    }

    #[test]
    fn missing_or_bad_record_means_report_all() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(FILE_NAME);
        assert_eq!(load(Some(&path)), None);
        std::fs::write(&path, "zz  a\n").unwrap();
        assert_eq!(load(Some(&path)), None);
        std::fs::write(&path, "no separator\n").unwrap();
        assert_eq!(load(Some(&path)), None);
        std::fs::write(&path, "").unwrap();
        assert_eq!(load(Some(&path)), Some(Record::new()));
    }
}
