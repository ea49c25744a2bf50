//! The digest of the image a step left in an OCI image layout directory.
//!
//! Upstream opens the directory with go-containerregistry's `layout.ImageIndexFromPath`, which
//! only needs `index.json` (no `oci-layout` file): if it cannot be read the image is skipped,
//! otherwise it must decode as an image index. The reported digest is the single manifest's
//! when the index lists exactly one, otherwise (none, or several platforms) the SHA-256 of
//! `index.json`'s bytes as stored.

use std::path::Path;

use gocompat::files::{self, ReadError};

use crate::{decode, hash::Hash};

/// Bound on `index.json`: registries refuse manifests and indexes over 4 MiB, so no image a
/// build can push has a larger one.
pub const MAX_INDEX_BYTES: u64 = 4 << 20;

/// The digest for the layout in `dir`: `Ok(None)` when its `index.json` cannot be read (the
/// image is skipped); `Err` is the one-line reason the step fails.
pub fn image_digest(dir: &str) -> Result<Option<String>, String> {
    // filepath.Join: "" is the working directory, the result is cleaned.
    let path = gocompat::fs::join(&[dir, "index.json"]);
    match files::read_bounded(Path::new(&path), MAX_INDEX_BYTES) {
        Ok(raw) => index_digest(&raw).map(Some),
        // Upstream skips whatever it cannot stat or read (missing, a directory, no access).
        Err(ReadError::NotFound | ReadError::Io(..)) => Ok(None),
        // Where upstream would block (a FIFO), read a device or a huge file, stop instead.
        Err(e @ (ReadError::NotRegular(_) | ReadError::TooLarge { .. })) => Err(e.text(&path)),
    }
}

/// The digest `index.json`'s bytes stand for; `Err` is Go's decoding error.
pub fn index_digest(raw: &[u8]) -> Result<String, String> {
    let node = gocompat::json::parse(raw)?;
    let manifests = decode::manifest_digests(&node)?;
    Ok(match manifests.as_slice() {
        [only] => only.to_string(),
        _ => Hash::sha256_of(raw).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    fn sha256sum(bytes: &[u8]) -> String {
        Hash::sha256_of(bytes).to_string()
    }

    #[test]
    fn one_manifest_is_its_digest() {
        let raw = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7,"digest":"sha256:{H1}"}}]}}"#
        );
        assert_eq!(
            index_digest(raw.as_bytes()).unwrap(),
            format!("sha256:{H1}")
        );
    }

    #[test]
    fn zero_or_several_manifests_are_the_index_bytes() {
        let zero = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(
            index_digest(zero).unwrap(),
            "sha256:bc5857ac9458293d5111ab85c952172cd7f56bceb4e3014ddc4cafac8927b313"
        );
        let two = format!(
            "{{\n  \"manifests\": [{{\"digest\":\"sha256:{H1}\"}}, {{\"digest\":\"sha256:{H2}\"}}]\n}}\n"
        );
        assert_eq!(
            index_digest(two.as_bytes()).unwrap(),
            sha256sum(two.as_bytes())
        );
        assert_eq!(index_digest(b"{}").unwrap(), sha256sum(b"{}"));
        assert_eq!(index_digest(b"null").unwrap(), sha256sum(b"null"));
    }

    #[test]
    fn a_lone_manifest_without_digest_is_the_zero_hash() {
        assert_eq!(index_digest(br#"{"manifests":[{}]}"#).unwrap(), ":");
    }

    #[test]
    fn malformed_indexes_fail() {
        assert_eq!(
            index_digest(b"").unwrap_err(),
            "unexpected end of JSON input"
        );
        assert_eq!(
            index_digest(br#"{"schemaVersion":2,"#).unwrap_err(),
            "unexpected end of JSON input"
        );
        assert_eq!(
            index_digest(br#"{"manifests":[{"digest":"sha256:abc"}]}"#).unwrap_err(),
            "wrong number of hex digits for sha256: abc"
        );
        // Any bad digest fails, even where the index's own digest would be reported.
        let two = format!(r#"{{"manifests":[{{"digest":"sha256:{H1}"}},{{"digest":"x"}}]}}"#);
        assert_eq!(
            index_digest(two.as_bytes()).unwrap_err(),
            "cannot parse hash: \"x\""
        );
    }

    #[test]
    fn reading_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(image_digest(d).unwrap(), None);
        assert_eq!(image_digest(&format!("{d}/nonexistent")).unwrap(), None);
        // A directory named index.json cannot be read: skipped, like upstream.
        std::fs::create_dir(dir.path().join("index.json")).unwrap();
        assert_eq!(image_digest(d).unwrap(), None);
        std::fs::remove_dir(dir.path().join("index.json")).unwrap();
        std::fs::write(dir.path().join("index.json"), "{}").unwrap();
        assert_eq!(image_digest(d).unwrap(), Some(sha256sum(b"{}")));
        assert_eq!(
            image_digest(&format!("{d}/sub/..")).unwrap(),
            Some(sha256sum(b"{}"))
        );
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_INDEX_BYTES as usize));
        std::fs::write(dir.path().join("index.json"), big).unwrap();
        assert_eq!(
            image_digest(d).unwrap_err(),
            format!("read {d}/index.json: larger than {MAX_INDEX_BYTES} bytes")
        );
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("index.json");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo only reads the NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let d = dir.path().to_str().unwrap();
        assert_eq!(
            image_digest(d).unwrap_err(),
            format!("read {d}/index.json: not a regular file (fifo)")
        );
    }
}
