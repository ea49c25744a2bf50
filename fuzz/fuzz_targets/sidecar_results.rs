//! sidecarlogresults' outside input: a step's `provenance.json`
//! ([`sidecarlogresults::artifacts::decode`], then `encode`) and the `-step-results` flag
//! ([`sidecarlogresults::step_results::decode`]).
//! Invariants: no panic; what `encode` writes is a JSON document that decodes to the same
//! artifacts and encodes to the same bytes again; an output line is one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidecarlogresults::{ResultType, artifacts, encode_line, step_results};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = artifacts::decode(data) {
        let once = artifacts::encode(&a);
        let again = artifacts::decode(&once).expect("re-encoded artifacts decode");
        assert_eq!(artifacts::encode(&again), once);
        let mut line = Vec::new();
        encode_line(&mut line, "step-s", &once, ResultType::StepArtifact);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = step_results::decode(text);
    }
    let mut line = Vec::new();
    encode_line(&mut line, "r", data, ResultType::Task);
    assert!(line.ends_with(b"\n") && !line[..line.len() - 1].contains(&b'\n'));
});
