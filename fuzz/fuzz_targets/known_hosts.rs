//! `known_hosts` host-key checking ([`git_init::creds::check_known_hosts`]): markers,
//! comma-separated pattern lists with wildcards and negation, hashed `|1|salt|hash` names
//! (HMAC-SHA1) and base64 key blobs. The input is `host NUL port(2 bytes) key NUL known_hosts`.
//! Invariants: no panic; a key never matches a file that does not contain its base64 text.
#![no_main]

use base64::Engine as _;
use git_init::creds::HostKeyStatus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = stepkit_fuzz::scratch_dir().join("known_hosts");
    let parts = stepkit_fuzz::split_nul(data, 3);
    let Ok(host) = std::str::from_utf8(parts[0]) else {
        return;
    };
    let (port, key) = match parts[1] {
        [a, b, key @ ..] => (u16::from_be_bytes([*a, *b]), key),
        _ => (22, parts[1]),
    };
    stepkit_fuzz::put(&file, parts[2]);
    let status = git_init::creds::check_known_hosts(std::slice::from_ref(&file), host, port, key);
    if status == HostKeyStatus::Match {
        let text = String::from_utf8_lossy(parts[2]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        let padless = b64.trim_end_matches('=');
        assert!(
            text.contains(padless),
            "matched a key the file does not hold"
        );
    }
});
