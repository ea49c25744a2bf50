//! Artifact substitution (docs/contract.md §3.13): `provenance.json` decoding
//! ([`entrypoint::substitute::Artifacts::decode`], Go `json.Unmarshal` rules), finding and
//! parsing `$(steps.<s>.inputs|outputs.<name>)` references
//! ([`entrypoint::substitute::artifact_refs`], [`entrypoint::substitute::parse_artifact_template`])
//! and replacing them in argv and env ([`entrypoint::substitute::apply_artifacts`]).
//! The input is `provenance.json NUL text`; the file is `steps/step-s/artifacts/provenance.json`.
//! Invariants: no panic; every artifact's values marshal to JSON that parses; a reference
//! found parses as a template; text without `$(steps.` is left unchanged.
#![no_main]

use entrypoint::substitute::{self, Artifacts};
use libfuzzer_sys::fuzz_target;
use stepkit_layout::Layout;

fuzz_target!(|data: &[u8]| {
    let root = stepkit_fuzz::scratch_dir();
    let layout = Layout::new(root.join("tekton"), root.join("workspace"));
    let parts = stepkit_fuzz::split_nul(data, 2);
    let Ok(text) = std::str::from_utf8(parts[1]) else {
        return;
    };
    stepkit_fuzz::put(
        &layout.steps_dir().join("step-s/artifacts/provenance.json"),
        parts[0],
    );
    if let Ok(artifacts) = Artifacts::decode(parts[0]) {
        for artifact in artifacts.inputs.iter().chain(&artifacts.outputs) {
            let json = substitute::marshal_artifact_values(artifact.values.as_deref());
            assert!(gocompat::json::parse(json.as_bytes()).is_ok(), "{json}");
        }
    }
    for reference in substitute::artifact_refs(text) {
        assert!(text.contains(reference));
        let template = substitute::parse_artifact_template(reference);
        assert!(template.is_ok(), "{reference:?}: {template:?}");
    }
    let _ = substitute::parse_artifact_template(text);
    let mut env = vec![("V".to_string(), text.to_string())];
    let mut command = vec!["/bin/true".to_string(), text.to_string()];
    if substitute::apply_artifacts(&layout, &mut env, &mut command).is_ok()
        && !text.contains("$(steps.")
    {
        assert_eq!(env[0].1, text);
        assert_eq!(command[1], text);
    }
});
