//! Reading task results, step results and artifacts into termination entries
//! (docs/contract.md §3.10).
//!
//! Values are taken raw (no trimming, any bytes); a missing file is skipped silently; any other
//! read error aborts with Go's `*PathError` text.

use std::path::Path;

use gocompat::{files, fs as gofs};
use termination::RunResult;

/// Go's `os.ReadFile`, bounded: `Ok(None)` when the file does not exist; a file above
/// [`files::MAX_RESULT_BYTES`] or one that is not a regular file (a FIFO, `/dev/zero`) is an
/// error naming it, never read.
pub fn read_file(path: &str) -> Result<Option<Vec<u8>>, String> {
    match files::read_bounded(Path::new(path), files::MAX_RESULT_BYTES) {
        Ok(data) => Ok(Some(data)),
        Err(files::ReadError::NotFound) => Ok(None),
        Err(e) => Err(e.text(path)),
    }
}

/// Reads `<dir>/<name>` for every non-empty name, in order.
pub fn read_results(
    dir: &str,
    names: &[String],
    result_type: u8,
) -> Result<Vec<RunResult>, String> {
    let mut out = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        let path = gofs::join(&[dir, name]);
        if let Some(value) = read_file(&path)? {
            out.push(RunResult::new(name.clone(), value, result_type));
        }
    }
    Ok(out)
}

/// The artifact entry for `path` (key = the path), if the file exists.
pub fn read_artifact(path: &str, result_type: u8) -> Result<Option<RunResult>, String> {
    Ok(read_file(path)?.map(|value| RunResult::new(path, value, result_type)))
}

/// `<step_metadata_dir>/artifacts/provenance.json`, Go-joined (this exact string is the entry's key).
pub fn step_artifacts_path(step_metadata_dir: &str) -> String {
    gofs::join(&[step_metadata_dir, "artifacts", "provenance.json"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_raw_values_and_skips_missing() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("digest"), "sha256:abc\n").unwrap();
        std::fs::write(d.path().join("arr"), "[\"a\",\"b\"]").unwrap();
        let dir = d.path().to_string_lossy().into_owned();
        let names: Vec<String> = ["digest", "", "missing", "arr"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = read_results(&dir, &names, 1).unwrap();
        assert_eq!(
            got,
            vec![
                RunResult::new("digest", "sha256:abc\n", 1),
                RunResult::new("arr", "[\"a\",\"b\"]", 1)
            ]
        );
    }

    #[test]
    fn directory_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("r")).unwrap();
        let dir = d.path().to_string_lossy().into_owned();
        let err = read_results(&dir, &["r".to_string()], 4).unwrap_err();
        assert_eq!(err, format!("read {dir}/r: is a directory"));
    }

    #[test]
    fn artifacts() {
        assert_eq!(step_artifacts_path("a/b"), "a/b/artifacts/provenance.json");
        assert_eq!(step_artifacts_path(""), "artifacts/provenance.json");
        let d = tempfile::tempdir().unwrap();
        let p = d
            .path()
            .join("provenance.json")
            .to_string_lossy()
            .into_owned();
        assert_eq!(read_artifact(&p, 5).unwrap(), None);
        std::fs::write(&p, "").unwrap();
        assert_eq!(
            read_artifact(&p, 5).unwrap(),
            Some(RunResult::new(p.clone(), "", 5))
        );
    }
}
