//! `-when_expressions` (docs/contract.md §3.14): the JSON array decoded with Go `json.Unmarshal`
//! rules ([`entrypoint::when::parse`]) and the run decision ([`entrypoint::when::allow_exec`],
//! operators and CEL). Invariants: no panic; decoded expressions serialise (as the debug and
//! post-file paths do) to JSON that decodes to the same expressions.
#![no_main]

use entrypoint::when;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(exprs) = when::parse(text) {
        let json = serde_json::to_string(&exprs).expect("serialise when expressions");
        assert_eq!(when::parse(&json).as_ref(), Ok(&exprs), "{json}");
        let _ = when::allow_exec(&exprs);
    }
});
