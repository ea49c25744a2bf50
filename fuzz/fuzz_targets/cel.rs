//! CEL `when` expressions ([`entrypoint::when::evaluate_cel`]): cel's Pratt parser, our
//! cel-go-like type check and evaluation with the standard library and `matches`.
//! Invariant: any text gives `Ok(bool)` or an error, never a panic, a stack overflow or a
//! runaway loop (libFuzzer's `-timeout`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = entrypoint::when::evaluate_cel(text);
});
