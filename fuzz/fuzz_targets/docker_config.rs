//! Docker secret files: `.dockercfg` ([`credentials::parse_dockercfg`]) and
//! `.dockerconfigjson` ([`credentials::parse_dockerconfigjson`]) decoded with Go's
//! `json.Unmarshal` rules. Invariants: no panic, and what either decoder accepts is written
//! by [`credentials::config_json`] as a `config.json` that decodes to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for decoded in [
        credentials::parse_dockercfg(data),
        credentials::parse_dockerconfigjson(data),
    ] {
        if let Ok(auths) = decoded {
            let written = credentials::config_json(&auths);
            assert_eq!(
                credentials::parse_dockerconfigjson(written.as_bytes()).as_ref(),
                Ok(&auths),
                "{written}"
            );
        }
    }
});
