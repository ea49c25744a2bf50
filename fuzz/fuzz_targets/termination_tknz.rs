//! `tknz:` messages ([`termination::decompress`]): base64 RawStd + raw DEFLATE with the
//! 128 KiB decompression-bomb limit. The input is taken once as the encoded payload after
//! `tknz:` (so the fuzzer explores base64 and DEFLATE directly) and once as JSON to compress.
//! Invariants: no panic, output within [`termination::MAX_DECOMPRESSED_SIZE`], and
//! `decompress(compress(x)) == x` for every `x` within the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut message = termination::COMPRESSED_PREFIX.as_bytes().to_vec();
    message.extend_from_slice(data);
    if let Ok(inflated) = termination::decompress(&message) {
        assert!(inflated.len() <= termination::MAX_DECOMPRESSED_SIZE);
    }
    let compressed = termination::compress(data);
    assert!(compressed.starts_with(termination::COMPRESSED_PREFIX.as_bytes()));
    assert_eq!(termination::decompress(&compressed).as_deref(), Ok(data));
});
