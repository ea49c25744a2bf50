//! imagedigestexporter's outside input: the `-images` JSON the controller builds and each
//! output's `index.json` ([`gocompat::json::parse`], then
//! [`imagedigestexporter::decode::images`] and [`imagedigestexporter::oci::index_digest`]).
//! Invariants: no panic; a digest it reports is `sha256:` and 64 lowercase hex digits, or `:`
//! (upstream's zero hash, for a lone manifest without a `digest`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = gocompat::json::parse(data) {
        let _ = imagedigestexporter::decode::images(&node);
    }
    if let Ok(digest) = imagedigestexporter::oci::index_digest(data) {
        if digest == ":" {
            return;
        }
        let hex = digest.strip_prefix("sha256:").expect("digest algorithm");
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{digest}"
        );
    }
});
