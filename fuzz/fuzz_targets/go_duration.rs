//! Go `time.ParseDuration` ([`goflag::parse_duration`]): no panic on any text, and every
//! accepted duration survives `Duration.String()` ([`goflag::format_duration`]) and back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(nanos) = goflag::parse_duration(text) {
        let shown = goflag::format_duration(nanos);
        assert_eq!(
            goflag::parse_duration(&shown),
            Ok(nanos),
            "{text:?} -> {shown:?}"
        );
    }
});
