//! git-init's argv ([`git_init::flags::parse`], Go `flag` rules) and its CSV flag values
//! (`-submodulePaths`, Go `encoding/csv`: [`git_init::flags::parse_csv_record`]).
//! The input is split at NUL bytes into argv, and is also read whole as one CSV text.
//! Invariants: no panic; a CSV record whose fields hold no `\r` re-quotes to CSV that reads
//! back as the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn quote(record: &[String]) -> String {
    let fields: Vec<String> = record
        .iter()
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect();
    fields.join(",")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<String> = text.split('\0').map(str::to_string).collect();
    let _ = git_init::flags::parse("git-init", &args, "/tekton/termination");
    if let Ok(record) = git_init::flags::parse_csv_record(text) {
        assert!(!record.is_empty());
        if !record.iter().any(|f| f.contains('\r')) {
            let again = git_init::flags::parse_csv_record(&quote(&record));
            assert_eq!(again.as_ref(), Ok(&record), "{text:?}");
        }
    }
});
