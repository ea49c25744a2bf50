//! Differential tests against Go's standard library (`gooracle/main.go`): upstream's two
//! reference patterns under Go `regexp`, the result-index pattern, Tekton's result-value
//! decoding, and `encoding/json` decoding of when-expressions, `provenance.json` (re-marshalled)
//! and `TEKTON_PLATFORM_COMMANDS`, over deterministic pseudo-random inputs. Without a `go`
//! toolchain they call `testsupport::skip` (a failure under `STEPKIT_REQUIRE_ALL=1`).

use super::*;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;
use testsupport::gooracle::{GoOracle, Rng};

use testsupport::hex;

/// Runs the oracle in `mode` over `inputs`, one parsed JSON line per input.
fn run(mode: &str, inputs: &[String]) -> Option<Vec<Value>> {
    static ORACLE: OnceLock<Option<GoOracle>> = OnceLock::new();
    let go = GoOracle::get(
        &ORACLE,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/substitute/gooracle/main.go"),
        &std::env::temp_dir()
            .join("stepkit-substitute-gooracle")
            .join(format!("gooracle-{}", std::process::id())),
    )?;
    let lines = go.run(&[mode], inputs.iter().map(|i| hex(i.as_bytes())));
    Some(
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// Strings glued from tokens that stress the reference patterns.
fn token_soup(rng: &mut Rng, count: usize, tokens: &[&str]) -> Vec<String> {
    (0..count)
        .map(|_| {
            let len = rng.below(14);
            (0..len).map(|_| rng.pick(tokens)).collect()
        })
        .collect()
}

/// Strings made of near-miss and real references with noise in every part.
fn ref_soup(rng: &mut Rng, count: usize) -> Vec<String> {
    let noise = &[
        "", "", "a", "b.c", ")", "\n", "[*]", "[2]", "$(", "é", ".", "x)y",
    ];
    let middles = &[
        ".results.",
        ".inputs.",
        ".outputs.",
        ".result.",
        ".",
        ".results.results.",
    ];
    let ends = &[")", ")", ")", "", "))", ".)", "\n)"];
    (0..count)
        .map(|_| {
            let mut s = String::new();
            for _ in 0..=rng.below(3) {
                s.push_str(rng.pick(noise));
                s.push_str(rng.pick(&["$(steps.", "$(steps.", "$(step.", "$("]));
                s.push_str(rng.pick(noise));
                s.push_str(rng.pick(&["s", "step", ""]));
                s.push_str(rng.pick(middles));
                s.push_str(rng.pick(&["r", "res", "", "out"]));
                s.push_str(rng.pick(noise));
                s.push_str(rng.pick(ends));
            }
            s
        })
        .collect()
}

const REF_TOKENS: &[&str] = &[
    "$(",
    "$(steps.",
    "steps.",
    "results.",
    ".results.",
    ".",
    ")",
    "))",
    "\n",
    "a",
    "bc",
    "[",
    "]",
    "*",
    "[*]",
    "[1]",
    "0",
    "inputs.",
    "outputs.",
    ".outputs.",
    "é",
    " ",
    "$",
    "(",
];

#[test]
fn step_result_pattern_matches_go_regexp() {
    let mut rng = Rng(0x5eed_1234);
    let mut inputs = token_soup(&mut rng, 2000, REF_TOKENS);
    inputs.extend(ref_soup(&mut rng, 3000));
    let Some(want) = run("steprefs", &inputs) else {
        return;
    };
    let mut matched = 0;
    for (input, want) in inputs.iter().zip(want) {
        matched += usize::from(want != serde_json::json!([]));
        assert_eq!(
            serde_json::json!(step_result_refs(input)),
            want,
            "{input:?}"
        );
    }
    assert!(matched > 50, "too few inputs with a match: {matched}");
}

#[test]
fn artifact_pattern_matches_go_regexp() {
    let mut rng = Rng(0x0a27_1fac);
    let mut inputs = token_soup(&mut rng, 2000, REF_TOKENS);
    inputs.extend(ref_soup(&mut rng, 3000));
    let Some(want) = run("artrefs", &inputs) else {
        return;
    };
    let mut matched = 0;
    for (input, want) in inputs.iter().zip(want) {
        matched += usize::from(want != serde_json::json!([]));
        assert_eq!(serde_json::json!(artifact_refs(input)), want, "{input:?}");
    }
    assert!(matched > 50, "too few inputs with a match: {matched}");
}

#[test]
fn result_name_index_matches_go_regexp() {
    let tokens = &["a", "[", "]", "*", "1", "23", "[1]", "[*]", "[]", "x"];
    let inputs = token_soup(&mut Rng(0x1d3e_77aa), 2000, tokens);
    let Some(want) = run("resultname", &inputs) else {
        return;
    };
    for (input, want) in inputs.iter().zip(want) {
        let (name, index) = split_array_index(input);
        let got = serde_json::json!([name, index.unwrap_or("")]);
        assert_eq!(got, want, "{input:?}");
    }
}

/// Random JSON-ish text: valid documents of mixed shapes, and some broken ones.
fn json_soup(rng: &mut Rng, count: usize, keys: &[&str], depth: usize) -> Vec<String> {
    fn value(rng: &mut Rng, keys: &[&str], depth: usize) -> String {
        let scalars = [
            "null",
            "true",
            "false",
            "1",
            "-2.5e3",
            "\"x\"",
            "\"\"",
            "\"a<b>&c\"",
            "\"line\\nbreak\"",
            "\"é\"",
            "\"\\u00e9\\t\"",
        ];
        match if depth == 0 { 0 } else { rng.below(4) } {
            0 => rng.pick(&scalars).to_string(),
            1 => {
                let n = rng.below(4);
                let items: Vec<String> = (0..n).map(|_| value(rng, keys, depth - 1)).collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let n = rng.below(5);
                let members: Vec<String> = (0..n)
                    .map(|_| {
                        let key = rng.pick(keys);
                        format!("\"{key}\":{}", value(rng, keys, depth - 1))
                    })
                    .collect();
                format!(" {{{}}} ", members.join(", "))
            }
        }
    }
    (0..count)
        .map(|_| {
            let mut doc = value(rng, keys, depth);
            if rng.below(20) == 0 {
                let mut cut = rng.below(doc.len() + 1);
                while !doc.is_char_boundary(cut) {
                    cut -= 1;
                }
                doc.truncate(cut);
            }
            doc
        })
        .collect()
}

#[test]
fn result_values_decode_like_go() {
    let mut rng = Rng(0x7e57_ab1e);
    let mut inputs = json_soup(&mut rng, 1500, &["a", "b", "A"], 2);
    inputs.extend(token_soup(
        &mut rng,
        300,
        &["[", "{", "\"", "a", "]", "}", " ", "null"],
    ));
    let Some(want) = run("resultval", &inputs) else {
        return;
    };
    for (input, want) in inputs.iter().zip(want) {
        let got = match ResultValue::decode(input.as_bytes()) {
            ResultValue::String(s) => serde_json::json!({"t":"string","s":s,"a":null,"o":null}),
            ResultValue::Array(a) => serde_json::json!({"t":"array","s":"","a":a,"o":null}),
            ResultValue::Object(o) => serde_json::json!({"t":"object","s":"","a":null,"o":o}),
        };
        assert_eq!(got, want, "{input:?}");
    }
}

#[test]
fn provenance_decodes_and_marshals_like_go() {
    let keys = [
        "inputs",
        "outputs",
        "Outputs",
        "name",
        "NAME",
        "values",
        "Values",
        "digest",
        "uri",
        "URI",
        "sha256",
        "buildOutput",
        "buildoutput",
        "other",
    ];
    let inputs = json_soup(&mut Rng(0xa271_fac7), 3000, &keys, 5);
    let Some(want) = run("artifacts", &inputs) else {
        return;
    };
    let mut decoded = 0;
    for (input, want) in inputs.iter().zip(want) {
        let got = match Artifacts::decode(input.as_bytes()) {
            Err(_) => {
                assert!(want.get("err").is_some(), "{input:?}: Go accepted: {want}");
                continue;
            }
            Ok(a) => a,
        };
        let marshal = |list: &[Artifact]| -> Vec<String> {
            list.iter()
                .map(|a| {
                    format!(
                        "{}={}",
                        a.name,
                        marshal_artifact_values(a.values.as_deref())
                    )
                })
                .collect()
        };
        decoded += 1;
        assert_eq!(
            serde_json::json!({"in": marshal(&got.inputs), "out": marshal(&got.outputs)}),
            want,
            "{input:?}"
        );
    }
    assert!(decoded > 100, "too few decodable inputs: {decoded}");
}

#[test]
fn when_expressions_decode_like_go() {
    let keys = [
        "input", "Input", "operator", "OPERATOR", "values", "Values", "cel", "CEL", "x",
    ];
    let inputs = json_soup(&mut Rng(0x3e4e_0001), 3000, &keys, 3);
    let Some(want) = run("when", &inputs) else {
        return;
    };
    let mut decoded = 0;
    for (input, want) in inputs.iter().zip(want) {
        match crate::when::parse(input) {
            Err(_) => assert!(want.get("err").is_some(), "{input:?}: Go accepted: {want}"),
            Ok(got) => {
                assert!(want.get("err").is_none(), "{input:?}: Go rejected: {want}");
                let want = crate::when::parse(&want.to_string()).unwrap_or_default();
                decoded += 1;
                assert_eq!(got, want, "{input:?}");
            }
        }
    }
    assert!(decoded > 100, "too few decodable inputs: {decoded}");
}

#[test]
fn platform_commands_decode_like_go() {
    let keys = ["linux/amd64", "linux/arm64", "linux"];
    let inputs = json_soup(&mut Rng(0x9147_f04e), 2000, &keys, 2);
    let Some(want) = run("platform", &inputs) else {
        return;
    };
    for (input, want) in inputs.iter().zip(want) {
        match crate::platform::decode_commands(input) {
            Err(_) => assert!(want.get("err").is_some(), "{input:?}: Go accepted: {want}"),
            Ok(got) => {
                let want = if want.is_null() {
                    serde_json::json!({})
                } else {
                    want
                };
                let got: serde_json::Map<String, Value> = got
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::json!(v)))
                    .collect();
                // Go marshals a nil []string as null; an empty command either way.
                let want: serde_json::Map<String, Value> = want
                    .as_object()
                    .unwrap_or_else(|| panic!("{input:?}: Go gave {want}"))
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            if v.is_null() {
                                serde_json::json!([])
                            } else {
                                v.clone()
                            },
                        )
                    })
                    .collect();
                assert_eq!(got, want, "{input:?}");
            }
        }
    }
}
