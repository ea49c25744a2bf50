//! Step-result substitution (docs/contract.md §3.13): finding `$(steps.<s>.results.<r>…)`
//! references ([`entrypoint::substitute::step_result_refs`]), parsing them
//! ([`entrypoint::substitute::parse_step_expression`]), decoding result files
//! ([`entrypoint::substitute::ResultValue::decode`]) and replacing them in env, when
//! expressions and argv ([`entrypoint::substitute::apply_step_results`]).
//! The input is `result-file NUL text`; the result file is `steps/step-s/results/r`.
//! Invariants: no panic; every reference found lies in the text, starts with `$(steps.` and
//! ends with `)`; text without `$(steps.` is left unchanged.
#![no_main]

use entrypoint::substitute::{self, ResultValue};
use entrypoint::when::WhenExpression;
use libfuzzer_sys::fuzz_target;
use stepkit_layout::Layout;

fuzz_target!(|data: &[u8]| {
    let root = stepkit_fuzz::scratch_dir();
    let layout = Layout::new(root.join("tekton"), root.join("workspace"));
    let parts = stepkit_fuzz::split_nul(data, 2);
    let Ok(text) = std::str::from_utf8(parts[1]) else {
        return;
    };
    stepkit_fuzz::put(&layout.steps_dir().join("step-s/results/r"), parts[0]);
    let _ = ResultValue::decode(parts[0]);
    for reference in substitute::step_result_refs(text) {
        assert!(reference.starts_with("$(steps.") && reference.ends_with(')'));
        assert!(text.contains(reference));
        let _ = substitute::parse_step_expression(&reference[2..reference.len() - 1]);
    }
    let mut env = vec![("V".to_string(), text.to_string())];
    let mut when = vec![WhenExpression {
        input: text.to_string(),
        operator: "in".to_string(),
        values: vec![text.to_string()],
        cel: String::new(),
    }];
    let mut command = vec![text.to_string()];
    if substitute::apply_step_results(&layout, &mut env, &mut when, &mut command).is_ok()
        && !text.contains("$(steps.")
    {
        assert_eq!(env[0].1, text);
        assert_eq!(command, [text]);
    }
});
