//! The controller's termination-message reader ([`termination::parse_message`], plain JSON or
//! `tknz:`) and upstream's `parseExisting` ([`termination::parse_existing`]) on any bytes.
//! Invariants: no panic; a decoded message re-encodes ([`termination::encode_json`]) to JSON
//! that decodes to the same entries, and compresses to a `tknz:` message that reads back the
//! same; a decompressed payload never exceeds [`termination::MAX_DECOMPRESSED_SIZE`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = termination::parse_message(data) {
        let json = termination::encode_json(&entries);
        assert_eq!(termination::parse_message(&json).as_ref(), Ok(&entries));
        let compressed = termination::compress(&json);
        assert_eq!(
            termination::parse_message(&compressed).as_ref(),
            Ok(&entries)
        );
    }
    if let Ok(entries) = termination::parse_existing(data) {
        let json = termination::encode_json(&entries);
        assert_eq!(termination::decode_json(&json).as_ref(), Ok(&entries));
    }
    if let Ok(inflated) = termination::decompress(data) {
        assert!(inflated.len() <= termination::MAX_DECOMPRESSED_SIZE);
    }
});
