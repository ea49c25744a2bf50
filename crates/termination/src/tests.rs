//! Unit tests; expected bytes marked "Go" were produced by Go 1.26's standard library
//! (`tests/gocompat/main.go`).

use super::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn entry(key: &str, value: &str) -> RunResult {
    RunResult::new(key, value, 0)
}

fn single(value: &[u8]) -> String {
    String::from_utf8(encode_json(&[RunResult::new("k", value, TASK_RUN_RESULT)])).unwrap()
}

#[test]
fn encodes_fields_in_go_order() {
    let mut r = RunResult::new("digest", "sha256:abc", TASK_RUN_RESULT);
    assert_eq!(
        encode_json(std::slice::from_ref(&r)),
        br#"[{"key":"digest","value":"sha256:abc","type":1}]"#
    );
    r.resource_name = "res".into();
    r.result_type = 0;
    assert_eq!(
        encode_json(&[r, entry("b", "")]),
        br#"[{"key":"digest","value":"sha256:abc","resourceName":"res"},{"key":"b","value":""}]"#
    );
    assert_eq!(encode_json(&[]), b"[]");
}

#[test]
fn encodes_full_byte_table_like_go() {
    let all: Vec<u8> = (0..=255u8).collect();
    // Go: json.Marshal of bytes 0x00..=0xff.
    let mut want = String::from(
        r##"[{"key":"k","value":"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f !\"#$%\u0026'()*+,-./0123456789:;\u003c=\u003e?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"##,
    );
    want.push('\u{7f}');
    for _ in 0x80..=0xff {
        want.push_str(r"\ufffd");
    }
    want.push_str(r#"","type":1}]"#);
    assert_eq!(single(&all), want);
}

#[test]
fn encodes_unicode_and_invalid_utf8_like_go() {
    // Go outputs for each input.
    let cases: &[(&[u8], &str)] = &[
        (b"\xe2\x82", r"\ufffd\ufffd"),
        (b"\xed\xa0\x80", r"\ufffd\ufffd\ufffd"),
        (b"\xc0\xafa", r"\ufffd\ufffda"),
        (b"\xf4\x90\x80\x80", r"\ufffd\ufffd\ufffd\ufffd"),
        ("\u{2028}\u{2029}".as_bytes(), r"\u2028\u2029"),
        ("😀é€\u{fffd}".as_bytes(), "😀é€\u{fffd}"),
        (
            br#"<a href="x">&amp;</a>\"#,
            r#"\u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e\\"#,
        ),
        (b"\x7f\x08\x0c", "\u{7f}\\b\\f"),
        (b"ok\xffok\xe2\x82\xac\xe2", r"ok\ufffdok€\ufffd"),
    ];
    for (input, want) in cases {
        assert_eq!(
            single(input),
            format!(r#"[{{"key":"k","value":"{want}","type":1}}]"#),
            "input {input:x?}"
        );
    }
}

const GO_MESSAGE: &str = r#"[{"key":"digest","value":"sha256:abc","type":1},{"key":"StartedAt","value":"2026-08-20T11:42:35.123Z","type":3}]"#;
/// Go: `"tknz:" + base64.RawStdEncoding(flate.BestCompression(GO_MESSAGE))`.
const GO_TKNZ: &str = "tknz:iq5Wyk6tVLJSSslMTy0uUdJRKkvMKU1VslIqzkg0MjWzSkxKVtJRKqksSFWyMqzVgSkPLkksKklNcUTWYWRgZKZrYKFrZBBiaGhlYmRlbKpnaGQcBddvXBsLCAAA//8";

#[test]
fn decompresses_go_output() {
    assert_eq!(
        decompress(GO_TKNZ.as_bytes()).unwrap(),
        GO_MESSAGE.as_bytes()
    );
    let parsed = parse_message(GO_TKNZ.as_bytes()).unwrap();
    assert_eq!(
        parsed,
        vec![
            RunResult::new("StartedAt", "2026-08-20T11:42:35.123Z", INTERNAL_RESULT),
            RunResult::new("digest", "sha256:abc", TASK_RUN_RESULT),
        ]
    );
}

#[test]
fn compress_round_trips() {
    let packed = compress(GO_MESSAGE.as_bytes());
    assert!(packed.starts_with(b"tknz:"));
    assert!(!packed.contains(&b'='));
    assert_eq!(decompress(&packed).unwrap(), GO_MESSAGE.as_bytes());
    assert_eq!(decompress(&compress(b"")).unwrap(), b"");
}

#[test]
fn decompress_rejects_bad_input() {
    assert!(decompress(b"tknz:").unwrap_err().contains("unexpected EOF"));
    assert!(decompress(b"tknz:!!!").unwrap_err().contains("base64"));
    assert!(decompress(b"tknz:aGVsbG8gd29ybGQ").is_err());
    assert!(decompress(b"[]").is_err());
    // Truncated Go stream.
    assert!(decompress(&GO_TKNZ.as_bytes()[..40]).is_err());
}

#[test]
fn decompress_caps_output() {
    let big = vec![b'a'; MAX_DECOMPRESSED_SIZE + 1];
    let err = decompress(&compress(&big)).unwrap_err();
    assert_eq!(
        err,
        "decompressed termination message exceeds 131072 byte limit"
    );
    let ok = vec![b'a'; MAX_DECOMPRESSED_SIZE];
    assert_eq!(
        decompress(&compress(&ok)).unwrap().len(),
        MAX_DECOMPRESSED_SIZE
    );
}

#[test]
fn parse_message_follows_controller_rules() {
    // Valid; unknown field ignored; keys case-insensitive.
    let got = parse_message(br#"[{"key":"foo","value":"bar","type":1},{"invalid":"x","value":"only"},{"KEY":"a","Value":"b","TYPE":"StepResult"}]"#).unwrap();
    assert_eq!(
        got,
        vec![
            entry("", "only"),
            RunResult::new("a", "b", STEP_RESULT),
            RunResult::new("foo", "bar", TASK_RUN_RESULT),
        ]
    );
    assert_eq!(parse_message(b"").unwrap(), vec![]);
    // Duplicates: last wins; zero entries dropped; sorted.
    let got = parse_message(
        br#"[{"key":"z","value":"1"},{},null,{"key":"a","value":"x"},{"key":"z","value":"2"}]"#,
    )
    .unwrap();
    assert_eq!(got, vec![entry("a", "x"), entry("z", "2")]);
    assert_eq!(parse_message(b"null").unwrap(), vec![]);
}

#[test]
fn parse_message_accepts_legacy_types() {
    for (name, want) in [
        ("TaskRunResult", TASK_RUN_RESULT),
        ("StepResult", STEP_RESULT),
        ("InternalTektonResult", INTERNAL_RESULT),
        ("StepArtifactsResult", STEP_ARTIFACTS_RESULT),
        ("TaskRunArtifactsResult", TASK_RUN_ARTIFACTS_RESULT),
        ("Whatever", UNKNOWN_RESULT),
    ] {
        let msg = format!(r#"[{{"key":"k","value":"v","type":"{name}"}}]"#);
        assert_eq!(parse_message(msg.as_bytes()).unwrap()[0].result_type, want);
    }
    assert_eq!(
        parse_message(br#"[{"key":"k","value":"v","type":1}]"#).unwrap()[0].result_type,
        1
    );
    assert_eq!(
        parse_message(br#"[{"key":"k","value":"v","type":null}]"#).unwrap()[0].result_type,
        0
    );
}

#[test]
fn parse_message_rejects_invalid() {
    for bad in [
        &b"not json"[..],
        b"{}",
        b"[1]",
        b"tknz:!!!",
        b"tknz:aGVsbG8gd29ybGQ",
        b"tknz:",
        br#"[{"key":"k","value":1}]"#,
        br#"[{"key":"k","value":"v","type":1.5}]"#,
        br#"[{"key":"k","value":"v","type":true}]"#,
        b"[] x",
    ] {
        assert!(
            parse_message(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn parse_matches_go_key_folding_and_utf8() {
    // KELVIN SIGN folds to k in Go; invalid UTF-8 inside strings becomes U+FFFD per byte.
    let got = parse_message("[{\"\u{212a}ey\":\"a\",\"value\":\"x\u{ff}\"}]".as_bytes()).unwrap();
    assert_eq!(got, vec![entry("a", "x\u{ff}")]);
    let got = parse_message(b"[{\"key\":\"a\",\"value\":\"\xe2\x82!\"}]").unwrap();
    assert_eq!(got[0].value, "\u{fffd}\u{fffd}!".as_bytes());
}

#[test]
fn existing_file_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    write_message(&path, &[entry("key1", "hello")], false).unwrap();
    write_message(&path, &[entry("key2", "world")], false).unwrap();
    assert_eq!(
        fs::read(&path).unwrap(),
        br#"[{"key":"key1","value":"hello"},{"key":"key2","value":"world"}]"#
    );
}

#[test]
fn unparsable_or_blank_existing_file_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    for old in ["", "not-json", " \n\t ", "[{\"key\":1}]", "{\"key\":\"x\"}"] {
        fs::write(&path, old).unwrap();
        write_message(&path, &[entry("key1", "hello")], false).unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            br#"[{"key":"key1","value":"hello"}]"#
        );
    }
    // Existing zero entries are kept on append, as Go does.
    fs::write(&path, "[{}]").unwrap();
    write_message(&path, &[entry("k", "v")], false).unwrap();
    assert_eq!(
        fs::read(&path).unwrap(),
        br#"[{"key":"","value":""},{"key":"k","value":"v"}]"#
    );
}

#[test]
fn writes_in_place_with_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    fs::write(&path, "x".repeat(500)).unwrap();
    let inode = fs::metadata(&path).unwrap().ino();
    write_message(&path, &[entry("a", "b")], false).unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(
        meta.ino(),
        inode,
        "file must be rewritten in place, not replaced"
    );
    assert_eq!(fs::read(&path).unwrap(), br#"[{"key":"a","value":"b"}]"#);
}

#[test]
fn new_file_mode_is_0666_minus_umask() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    write_message(&path, &[entry("a", "b")], false).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o666, 0);
    assert_ne!(mode & 0o600, 0);
}

#[test]
fn read_error_other_than_missing_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_message(dir.path(), &[entry("a", "b")], false).unwrap_err();
    assert!(matches!(err, WriteError::Io { .. }));
    assert_eq!(
        err.to_string(),
        format!("read {}: is a directory", dir.path().display())
    );
}

#[test]
fn compressed_message_round_trips_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    let results: Vec<RunResult> = (0..20)
        .map(|i| {
            RunResult::new(
                format!("result-{i}"),
                format!("value-{i}-aaaaaaaaaaaaaaaa"),
                1,
            )
        })
        .collect();
    write_message(&path, &results, true).unwrap();
    let written = fs::read(&path).unwrap();
    assert!(written.starts_with(b"tknz:"));
    assert!(written.len() < encode_json(&results).len());
    assert_eq!(decompress(&written).unwrap(), encode_json(&results));

    write_message(&path, &[RunResult::new("StartedAt", "t", 3)], true).unwrap();
    let mut all = results.clone();
    all.push(RunResult::new("StartedAt", "t", 3));
    assert_eq!(
        decompress(&fs::read(&path).unwrap()).unwrap(),
        encode_json(&all)
    );
}

#[test]
fn compression_falls_back_to_plain_when_not_shorter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    write_message(&path, &[entry("a", "b")], true).unwrap();
    assert_eq!(fs::read(&path).unwrap(), br#"[{"key":"a","value":"b"}]"#);
}

#[test]
fn message_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    fs::write(&path, "[]").unwrap();
    let err = write_message(&path, &[entry("foo", &"a".repeat(4096))], false).unwrap_err();
    assert!(matches!(err, WriteError::TooLarge));
    assert_eq!(
        err.to_string(),
        "Termination message is above max allowed size 4096, caused by large task result."
    );
    assert_eq!(
        fs::read(&path).unwrap(),
        b"[]",
        "nothing written on overflow"
    );

    // `[{"key":"k","value":"…"}]` is 24 bytes of framing: exactly 4096 is allowed, 4097 is not.
    write_message(&path, &[entry("k", &"a".repeat(4096 - 24))], false).unwrap();
    assert_eq!(fs::read(&path).unwrap().len(), 4096);
    fs::remove_file(&path).unwrap();
    let err = write_message(&path, &[entry("k", &"a".repeat(4097 - 24))], false).unwrap_err();
    assert!(matches!(err, WriteError::TooLarge));
    assert!(!path.exists());
}

#[test]
fn exceeds_limit_plain_but_fits_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    let results: Vec<RunResult> = (0..50)
        .map(|i| {
            RunResult::new(
                format!("result-{i}"),
                format!("value-{i}-{}", "x".repeat(60)),
                1,
            )
        })
        .collect();
    assert!(matches!(
        write_message(&path, &results, false),
        Err(WriteError::TooLarge)
    ));
    write_message(&path, &results, true).unwrap();
    assert!(fs::read(&path).unwrap().len() <= MAX_MESSAGE_SIZE);
}

/// Same deterministic payload generator as `fit` in `tests/gocompat/main.go`.
pub(crate) fn payload(n: usize, size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = (n as u32).wrapping_mul(7919).wrapping_add(17);
    (0..size)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ALPHABET[((x >> 16) % ALPHABET.len() as u32) as usize] as char
        })
        .collect()
}

/// How many `size`-byte results fit, plain and compressed.
pub(crate) fn capacity(size: usize) -> (usize, usize) {
    let count = |compressed: bool| {
        let mut results = Vec::new();
        for n in 0.. {
            results.push(RunResult::new(format!("result-{n}"), payload(n, size), 1));
            let plain = encode_json(&results);
            let mut len = plain.len();
            if compressed {
                len = len.min(compress(&plain).len());
            }
            if len > MAX_MESSAGE_SIZE {
                return n;
            }
        }
        unreachable!()
    };
    (count(false), count(true))
}

#[test]
fn capacity_matches_go() {
    // Go (flate level 9): 64-byte values: 39 plain, 64 compressed; 512-byte: 7 plain, 8 compressed.
    let (plain64, packed64) = capacity(64);
    let (plain512, packed512) = capacity(512);
    eprintln!(
        "capacity 64B: plain {plain64} compressed {packed64}; 512B: plain {plain512} compressed {packed512}"
    );
    assert_eq!(plain64, 39);
    assert_eq!(plain512, 7);
    assert!(
        packed64 > plain64 && packed512 > plain512,
        "compression must fit strictly more"
    );
    assert!(packed64 >= 60 && packed512 >= 8);
}

/// The data of upstream's `TestWriteCompressedMessage_ExceedsLimitUncompressedButFitsCompressed`.
fn upstream_fifty() -> Vec<RunResult> {
    (0..50)
        .map(|i| {
            RunResult::new(
                format!(
                    "image-digest-result-{}{}",
                    char::from(b'a' + (i % 26) as u8),
                    "-".repeat(i % 5)
                ),
                format!(
                    "gcr.io/my-project/my-image-name@sha256:abcdef1234567890abcdef1234567890abcdef1234567890abcdef12345678{}",
                    "90".repeat(i % 3 + 1)
                ),
                TASK_RUN_RESULT,
            )
        })
        .collect()
}

#[test]
fn upstream_fifty_results_fit_only_compressed() {
    let results = upstream_fifty();
    // Go: plain JSON 7949 bytes, compressed 381.
    assert_eq!(encode_json(&results).len(), 7949);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    assert!(matches!(
        write_message(&path, &results, false),
        Err(WriteError::TooLarge)
    ));
    write_message(&path, &results, true).unwrap();
    let written = fs::read(&path).unwrap();
    assert!(written.len() < 500, "compressed to {} bytes", written.len());
    assert_eq!(parse_message(&written).unwrap().len(), 50);
}

#[test]
fn upstream_capacity_benchmark() {
    // Go: 27 plain, 200 (the loop's cap) compressed.
    let make = |i: usize| {
        RunResult::new(
            format!("image-digest-xxxxx-{}", char::from(b'a' + (i % 26) as u8)),
            format!(
                "gcr.io/my-project/my-image@sha256:{}",
                "abcdef1234567890".repeat(4)
            ),
            TASK_RUN_RESULT,
        )
    };
    let fits = |n: usize, compressed: bool| {
        let results: Vec<RunResult> = (0..n).map(make).collect();
        let plain = encode_json(&results);
        let len = if compressed {
            plain.len().min(compress(&plain).len())
        } else {
            plain.len()
        };
        len <= MAX_MESSAGE_SIZE
    };
    let max = |compressed: bool| {
        (1..=200)
            .take_while(|&n| fits(n, compressed))
            .last()
            .unwrap_or(0)
    };
    assert_eq!(max(false), 27);
    assert_eq!(max(true), 200);
}

#[test]
fn upstream_twenty_digests_are_compressed_and_smaller() {
    let results: Vec<RunResult> = (0..20)
        .map(|i| {
            RunResult::new(
                format!("image-digest-{}", char::from(b'a' + i as u8)),
                "gcr.io/project/image@sha256:abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890",
                TASK_RUN_RESULT,
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("termination");
    write_message(&path, &results, true).unwrap();
    assert!(fs::read(&path).unwrap().starts_with(b"tknz:"));

    let large = "result-value-data-".repeat(50);
    let two = [
        RunResult::new("key1", large.as_str(), 1),
        RunResult::new("key2", large.as_str(), 1),
    ];
    let plain_path = dir.path().join("plain");
    let packed_path = dir.path().join("packed");
    write_message(&plain_path, &two, false).unwrap();
    write_message(&packed_path, &two, true).unwrap();
    assert!(fs::read(&packed_path).unwrap().len() < fs::read(&plain_path).unwrap().len());
    assert_eq!(
        parse_message(&fs::read(&packed_path).unwrap()).unwrap(),
        two
    );
}

#[test]
fn unpaired_surrogate_escapes_become_replacement_chars() {
    // Go: `\ud800x\udc00\ud800\u0041` decodes to "\u{fffd}x\u{fffd}\u{fffd}A".
    let got = parse_message(br#"[{"key":"a","value":"\ud800x\udc00\ud800\u0041"}]"#).unwrap();
    assert_eq!(got[0].value, "\u{fffd}x\u{fffd}\u{fffd}A".as_bytes());
    let got = parse_message(br#"[{"key":"a","value":"\ud83d\ude00"}]"#).unwrap();
    assert_eq!(got[0].value, "😀".as_bytes());
}

#[test]
fn hostile_existing_termination_files() {
    let d = tempfile::tempdir().unwrap();
    // A FIFO nobody writes to: refused with one line naming it, without blocking.
    let fifo = d.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = write_message(&fifo, &[entry("a", "b")], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("read {}: not a regular file (fifo)", fifo.display())
    );
    // A symlink to /dev/zero: refused the same way, nothing written through it.
    let zero = d.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let err = write_message(&zero, &[entry("a", "b")], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "read {}: not a regular file (character device)",
            zero.display()
        )
    );
    // A sparse 10 GiB file: not a message any step wrote, so replaced like garbage.
    let sparse = d.path().join("sparse");
    fs::File::create(&sparse)
        .unwrap()
        .set_len(10 << 30)
        .unwrap();
    write_message(&sparse, &[entry("a", "b")], true).unwrap();
    assert_eq!(
        fs::read_to_string(&sparse).unwrap(),
        r#"[{"key":"a","value":"b"}]"#
    );
}

/// Near the limit zopfli's stream is used: it round-trips and beats zlib's.
#[test]
fn near_limit_uses_the_stronger_encoder() {
    let mut x: u32 = 7;
    let mut hex = || {
        (0..64)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b"0123456789abcdef"[((x >> 16) % 16) as usize]
            })
            .collect::<Vec<u8>>()
    };
    let results: Vec<RunResult> = (0..78)
        .map(|i| RunResult::new(format!("r{i}"), hex(), TASK_RUN_RESULT))
        .collect();
    let json = encode_json(&results);
    let zlib = tknz(&deflate_zlib(&json));
    let packed = compress(&json);
    assert!(zlib.len() > MAX_MESSAGE_SIZE, "zlib: {}", zlib.len());
    assert!(packed.len() <= MAX_MESSAGE_SIZE, "zopfli: {}", packed.len());
    assert_eq!(decompress(&packed).unwrap(), json);
    // Small messages keep the fast encoder.
    let small = encode_json(&results[..3]);
    assert_eq!(compress(&small), tknz(&deflate_zlib(&small)));
}
