//! Differential tests against Go's standard library (`tests/gocompat/main.go`): JSON string
//! escaping, base64 decoding with error offsets, tknz compression both ways, message parsing,
//! and gocompat's `filepath.Clean` and errno texts. Without a `go` toolchain they call `testsupport::skip` (a failure under
//! `STEPKIT_REQUIRE_ALL=1`).

use std::path::Path;
use std::sync::OnceLock;

use gocompat::{base64 as gobase64, fs as gofs};
use termination::{RunResult, compress, decompress, encode_json, parse_message};

use testsupport::gooracle::{GoOracle, Rng};
use testsupport::{hex, unhex};

/// Runs the oracle in `mode` over hex-encoded `inputs`, one output line per input.
fn run(mode: &str, inputs: &[Vec<u8>]) -> Option<Vec<String>> {
    static ORACLE: OnceLock<Option<GoOracle>> = OnceLock::new();
    let go = GoOracle::get(
        &ORACLE,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gocompat/main.go"),
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocompat/gocompat"),
    )?;
    Some(go.run(&[mode], inputs.iter().map(|i| hex(i))))
}

#[test]
fn json_escaping_matches_go() {
    let mut inputs: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    for a in [0x00u8, 0x41, 0x7f, 0xc2, 0xe2, 0xed, 0xf0, 0xf4, 0xff] {
        for b in 0..=255u8 {
            inputs.push(vec![a, b]);
            inputs.push(vec![a, b, 0x80, 0x80]);
        }
    }
    let interesting: Vec<u8> = [
        b"\x00\x08\x0c\n\r\t\"\\<>&a\x7f\x80\xbf\xc0\xc1\xc2\xdf\xe0\xe2\x80\xa8\xa9\xed\xa0\xef\xbf\xbd\xf0\x9f\x98\x80\xf4\x8f\x90\xf5\xff"
            .as_slice(),
    ]
    .concat();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let len = (rng.next_u64() % 12) as usize;
        inputs.push((0..len).map(|_| rng.pick(&interesting)).collect());
    }
    let Some(go) = run("json", &inputs) else {
        return;
    };
    for (input, want) in inputs.iter().zip(go) {
        let ours = encode_json(&[RunResult::new("k", input.clone(), 1)]);
        assert_eq!(hex(&ours), want, "value bytes {input:02x?}");
    }
}

#[test]
fn base64_decoding_matches_go() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let alphabet = b"QUJD+/aGk=\n\r!-_ 0";
    let mut inputs = vec![b"IyEvdXNyL2Jpbi9lbnYgc2gKZWNobyAiSGVsbG8gV29ybGQhIgo=\n".to_vec()];
    for _ in 0..6000 {
        let len = (rng.next_u64() % 14) as usize;
        inputs.push((0..len).map(|_| rng.pick(alphabet)).collect());
    }
    type Decoder = fn(&[u8]) -> Result<Vec<u8>, gobase64::CorruptInputError>;
    let decoders: [(&str, Decoder); 2] = [
        ("b64std", gobase64::decode_std),
        ("b64raw", gobase64::decode_raw_std),
    ];
    for (mode, decode) in decoders {
        let Some(go) = run(mode, &inputs) else { return };
        for (input, want) in inputs.iter().zip(go) {
            let ours = match decode(input) {
                Ok(bytes) => hex(&bytes),
                Err(err) => format!("ERR {err}"),
            };
            assert_eq!(ours, want, "{mode} of {:?}", String::from_utf8_lossy(input));
        }
    }
}

fn sample_messages() -> Vec<Vec<u8>> {
    let mut rng = Rng(42);
    let mut out = vec![Vec::new(), b"[]".to_vec()];
    for n in 0..60 {
        let results: Vec<RunResult> = (0..n)
            .map(|i| {
                let len = (rng.next_u64() % 200) as usize;
                let value: Vec<u8> = (0..len)
                    .map(|_| rng.pick(b"abc<>&\"\\\n\x01\xe2\x82\xac"))
                    .collect();
                RunResult::new(format!("r{}", rng.next_u64() % 30), value, (i % 7) as u8)
            })
            .collect();
        out.push(encode_json(&results));
    }
    out
}

#[test]
fn our_compression_decodes_in_go() {
    let mut messages = sample_messages();
    // Near the limit, where zopfli's stream replaces zlib's (64 and 65 results).
    for n in 60..68 {
        let results: Vec<RunResult> = (0..n)
            .map(|i| RunResult::new(format!("result-{i}"), fit_payload(i, 64), 1))
            .collect();
        messages.push(encode_json(&results));
    }
    let packed: Vec<Vec<u8>> = messages.iter().map(|m| compress(m)).collect();
    let Some(go) = run("inflate", &packed) else {
        return;
    };
    for (message, want) in messages.iter().zip(go) {
        assert_eq!(hex(message), want);
    }
}

#[test]
fn go_compression_decodes_here() {
    let messages = sample_messages();
    let Some(go) = run("deflate", &messages) else {
        return;
    };
    for (message, packed) in messages.iter().zip(go) {
        assert_eq!(&decompress(packed.as_bytes()).unwrap(), message);
    }
}

#[test]
fn parsing_matches_go() {
    let mut inputs: Vec<Vec<u8>> = sample_messages();
    for text in [
        r#"[{"key":"a","value":"1"},{"key":"a","value":"2"},{},null]"#,
        r#"[{"KEY":"a","VaLuE":"1","Type":"StepResult","resourcename":"r"}]"#,
        r#"[{"key":"a","value":"1","key":"b"}]"#,
        r#"[{"key":null,"value":"v","type":null}]"#,
        r#"[{"key":"a","value":"v","type":"Nope"}]"#,
        r#"[{"key":"a","value":"v","type":1.0}]"#,
        r#"[{"key":"a","value":"v","type":[1]}]"#,
        r#"[{"key":"a","value":"v","extra":{"x":[1,2,{}]}}]"#,
        r#"[{"key":"a","value":1}]"#,
        r#"[{"key":"a","value":"\u00e9\u003c\ud83d\ude00"}]"#,
        r#"[{"key":"a","value":"\ud800x\udc00\ud800\u0041"}]"#,
        r#"[{"key":"a\udc00","value":"\ud800\n\ud800\ud800\udc00\ud800"}]"#,
        r#"[{"k\ud800":"x","key":"a","value":"\udbff\udfff"}]"#,
        r#"{"key":"a"}"#,
        "null",
        " [ ] ",
        "[] x",
        "[1]",
        "tknz:",
        "tknz:aGVsbG8gd29ybGQ",
        "tknz:!!",
    ] {
        inputs.push(text.as_bytes().to_vec());
    }
    inputs.push(b"[{\"key\":\"\xff\",\"value\":\"\xe2\x82\"}]".to_vec());
    inputs.push(b"[{\"\xe2\x84\xaaey\":\"kelvin\",\"value\":\"v\"}]".to_vec());
    let compressed: Vec<Vec<u8>> = sample_messages().iter().map(|m| compress(m)).collect();
    inputs.extend(compressed);
    let Some(go) = run("parse", &inputs) else {
        return;
    };
    for (input, want) in inputs.iter().zip(go) {
        let ours = match parse_message(input) {
            Ok(entries) if entries.is_empty() && want == hex(b"null") => hex(b"null"),
            Ok(entries) => hex(&encode_json(&entries)),
            Err(_) => "ERR".to_string(),
        };
        assert_eq!(
            ours,
            want,
            "parse of {:?}: go gave {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&unhex(&want))
        );
    }
}

/// `fit`'s payload in `tests/gocompat/main.go`: the same deterministic, moderately
/// compressible values on both sides.
fn fit_payload(n: usize, size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = (n as u32).wrapping_mul(7919).wrapping_add(17);
    (0..size)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ALPHABET[((x >> 16) % ALPHABET.len() as u32) as usize] as char
        })
        .collect()
}

/// How many `size`-byte task results fit in a message here, plain and compressed (`fit`'s
/// loop with stepkit's encoder and compressor).
fn our_capacity(size: usize) -> (usize, usize) {
    let count = |compressed: bool| {
        let mut results = Vec::new();
        for n in 0.. {
            results.push(RunResult::new(
                format!("result-{n}"),
                fit_payload(n, size),
                1,
            ));
            let plain = encode_json(&results);
            let mut len = plain.len();
            if compressed {
                len = len.min(compress(&plain).len());
            }
            if len > termination::MAX_MESSAGE_SIZE {
                return n;
            }
        }
        unreachable!("the loop returns once the message outgrows the limit")
    };
    (count(false), count(true))
}

/// The capacities docs/termination.md states: plain messages hold exactly as many results as
/// Go's (the JSON is byte-identical); compressed ones at least as many (zopfli near the limit,
/// docs/termination.md). A change on either side fails here and the doc must follow.
#[test]
fn capacity_matches_go_as_documented() {
    let Some(go) = run("fit", &[b"64".to_vec(), b"512".to_vec()]) else {
        return;
    };
    let parse = |line: &str| -> (usize, usize) {
        let (plain, packed) = line.split_once(' ').expect("fit prints two counts");
        (plain.parse().unwrap(), packed.parse().unwrap())
    };
    // (value size, stepkit plain and compressed, Go plain and compressed) as documented.
    let documented = [(64, (39, 65), (39, 64)), (512, (7, 8), (7, 8))];
    for ((size, ours_doc, go_doc), go_line) in documented.into_iter().zip(&go) {
        let ours = our_capacity(size);
        let go = parse(go_line);
        assert_eq!(
            ours.0, go.0,
            "{size}-byte values: plain capacity differs from Go's"
        );
        assert!(
            ours.1 >= go.1,
            "{size}-byte values: {} compressed results fit here, Go fits {}",
            ours.1,
            go.1
        );
        assert_eq!(
            (ours, go),
            (ours_doc, go_doc),
            "{size}-byte values: (stepkit, Go) capacities are not docs/termination.md's"
        );
    }
}

#[test]
fn path_clean_matches_go() {
    let mut rng = Rng(7);
    let mut inputs = vec![Vec::new()];
    for _ in 0..5000 {
        let len = (rng.next_u64() % 12) as usize;
        inputs.push((0..len).map(|_| rng.pick(b"//..ab")).collect());
    }
    let Some(go) = run("clean", &inputs) else {
        return;
    };
    for (input, want) in inputs.iter().zip(go) {
        let path = std::str::from_utf8(input).unwrap();
        assert_eq!(hex(gofs::clean(path).as_bytes()), want, "clean({path:?})");
    }
}

#[test]
fn errno_texts_match_go() {
    let inputs: Vec<Vec<u8>> = (-1..=200)
        .map(|n: i32| n.to_string().into_bytes())
        .collect();
    let Some(go) = run("errno", &inputs) else {
        return;
    };
    for (n, want) in (-1..=200).zip(go) {
        assert_eq!(gofs::errno_text(n), want, "errno {n}");
    }
}
