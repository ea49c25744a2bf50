//! Differential test against Go's `flag` package (`tests/goflag_oracle/main.go`): random argv
//! built from flag-shaped tokens (dashes, `=`, defined and undefined names, non-ASCII names,
//! values of every type) must give the same outcome — the same error text, help, or the same
//! values and positional arguments — as Go's `FlagSet.Parse`.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use goflag::{FlagError, FlagSet, format_duration};

use testsupport::gooracle::{GoOracle, Rng};
use testsupport::{hex, unhex};

fn oracle() -> Option<&'static GoOracle> {
    static ORACLE: OnceLock<Option<GoOracle>> = OnceLock::new();
    GoOracle::get(
        &ORACLE,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/goflag_oracle/main.go"),
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("goflag_oracle/goflag_oracle"),
    )
}

/// Go's outcome for each argv.
fn go_outcomes(go: &GoOracle, argvs: &[Vec<String>]) -> Vec<String> {
    let lines = argvs.iter().map(|argv| {
        let line: Vec<String> = argv.iter().map(|a| hex(a.as_bytes())).collect();
        line.join(",")
    });
    go.run(&[], lines)
        .iter()
        .map(|l| String::from_utf8(unhex(l)).unwrap())
        .collect()
}

/// goflag's outcome, in the oracle's format.
fn rust_outcome(argv: &[String]) -> String {
    let mut fs = FlagSet::new("oracle");
    fs.string("s", "", "");
    fs.string("é", "", "");
    fs.bool("b", false, "");
    fs.duration("d", 0, "");
    fs.uint("u", 0, "");
    fs.int("i", 0, "");
    fs.float("f", 0.0, "");
    fs.func("fn", "", |v| {
        if v.contains("bad") {
            Err("bad value".into())
        } else {
            Ok(())
        }
    });
    match fs.parse(argv) {
        Err(FlagError::Help) => "HELP".into(),
        Err(FlagError::Invalid(m)) => format!("ERR {m}"),
        Ok(p) => format!(
            "OK s={} é={} b={} d={} u={} i={} fn={} args={}",
            p.str("s"),
            p.str("é"),
            p.bool("b"),
            format_duration(p.duration("d")),
            p.uint("u"),
            p.int("i"),
            p.list("fn").join("|"),
            p.args().join("|"),
        ),
    }
}

const DASHES: &[&str] = &["", "-", "--", "---"];
const NAMES: &[&str] = &[
    "s",
    "é",
    "b",
    "d",
    "u",
    "i",
    "f",
    "fn",
    "h",
    "help",
    "x",
    "",
    "=",
    "é=",
    "ü",
    "日本",
    "s=",
    "b=",
    "-",
    "\u{1F600}",
    "\t",
    "\"",
];
const VALUES: &[&str] = &[
    "",
    "x",
    "1",
    "0",
    "-1",
    "true",
    "F",
    "1s",
    "1.5h",
    "5",
    "0x1f",
    "1_0",
    "0b2",
    "bad",
    "é",
    "-s",
    "--",
    "=",
    "inf",
    "1e400",
    "µs",
    "3μs",
    "\\",
    "\"q\"",
    "\n",
    "\u{7f}",
    "18446744073709551616",
];

fn random_argv(rng: &mut Rng) -> Vec<String> {
    let len = 1 + rng.next_u64() % 5;
    (0..len)
        .map(|_| match rng.next_u64() % 4 {
            0 => rng.pick(VALUES).to_string(),
            1 => format!("{}{}", rng.pick(DASHES), rng.pick(NAMES)),
            _ => format!(
                "{}{}={}",
                rng.pick(DASHES),
                rng.pick(NAMES),
                rng.pick(VALUES)
            ),
        })
        .collect()
}

#[test]
fn random_argv_matches_go_flag() {
    let Some(go) = oracle() else { return };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut argvs: Vec<Vec<String>> = vec![
        vec!["-é".into()],
        vec!["--é".into()],
        vec!["-é=1".into()],
        vec!["-日本=x".into(), "y".into()],
        vec!["-=x".into()],
        vec!["--=x".into()],
        vec!["---x".into()],
        vec!["--".into(), "-s".into()],
        vec!["-".into(), "-s".into()],
        vec!["".into(), "-s".into()],
        vec!["-s".into()],
        vec![format!("-{}", "é".repeat(100_000))],
        vec!["-s".into(), "x".repeat(1 << 20)],
    ];
    argvs.extend((0..20_000).map(|_| random_argv(&mut rng)));
    let go = go_outcomes(go, &argvs);
    let mut mismatches = Vec::new();
    for (argv, go) in argvs.iter().zip(&go) {
        let ours = rust_outcome(argv);
        if &ours != go {
            mismatches.push(format!("{argv:?}\n  go:   {go:?}\n  ours: {ours:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ; first ones:\n{}",
        mismatches.len(),
        argvs.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
}

/// `go_quote` (`%q`, in every flag error) escapes exactly the runes Go's `strconv.Quote` does,
/// the same way, for every code point.
#[test]
fn quoting_matches_go_for_every_rune() {
    let Some(go) = oracle() else { return };
    let out = Command::new(go.path()).arg("quote-all").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let runes = (0..=0x10FFFFu32).filter_map(char::from_u32);
    let mut lines = text.lines();
    let mut mismatches = Vec::new();
    for c in runes {
        let go = String::from_utf8(unhex(lines.next().expect("one line per rune"))).unwrap();
        let ours = goflag::go_quote(&c.to_string());
        if go != ours && mismatches.len() < 10 {
            mismatches.push(format!("U+{:04X}: go {go} ours {ours}", c as u32));
        }
    }
    assert!(lines.next().is_none());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
