//! A temporary `/tekton` tree and helpers to run the built `entrypoint` binary as a pod would.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_entrypoint");

pub struct Pod {
    pub dir: tempfile::TempDir,
}

/// One termination entry: (key, value, type); StartedAt's value is checked and blanked.
pub type Entry = (String, String, u8);

pub fn e(key: &str, value: &str, t: u8) -> Entry {
    (key.to_string(), value.to_string(), t)
}

impl Pod {
    pub fn new() -> Pod {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in [
            "tekton/downward",
            "tekton/results",
            "tekton/artifacts",
            "tekton/creds",
            "tekton/run/0",
            "tekton/run/1",
            "tekton/run/2",
            "workspace",
            "home",
        ] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        Pod { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `<tekton>/<rel>` as a string.
    pub fn t(&self, rel: &str) -> String {
        self.dir
            .path()
            .join("tekton")
            .join(rel)
            .to_string_lossy()
            .into_owned()
    }

    pub fn exists(&self, rel: &str) -> bool {
        Path::new(&self.t(rel)).exists()
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.t(rel)).ok()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = PathBuf::from(self.t(rel));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Writes atomically (temp + rename), as a reader must never see a half-written file.
    pub fn write_atomic(&self, rel: &str, content: &str) {
        let p = PathBuf::from(self.t(rel));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let tmp = p.with_extension("tmp-write");
        std::fs::write(&tmp, content).unwrap();
        std::fs::rename(tmp, p).unwrap();
    }

    /// A bare command for the binary with the relocated layout.
    pub fn bare(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("STEPKIT_TEKTON_DIR", self.dir.path().join("tekton"))
            .env("STEPKIT_WORKSPACE_DIR", self.dir.path().join("workspace"))
            .env("HOME", self.dir.path().join("home"))
            .env_remove("TEKTON_PLATFORM_COMMANDS")
            .env_remove("TEKTON_HERMETIC")
            .current_dir(self.dir.path());
        c
    }

    /// The controller's argv for step `i`: post file, per-step termination file and metadata
    /// dir, then `flags`, then `--` and `command` (`command[0]` becomes `-entrypoint`).
    pub fn step(&self, i: usize, flags: &[&str], command: &[&str]) -> Command {
        let mut c = self.bare();
        c.arg("-post_file")
            .arg(self.t(&format!("run/{i}/out")))
            .arg("-termination_path")
            .arg(self.t(&format!("termination-{i}")))
            .arg("-step_metadata_dir")
            .arg(self.t(&format!("run/{i}/status")));
        c.args(flags);
        if let Some((first, rest)) = command.split_first() {
            c.arg("-entrypoint").arg(first).arg("--").args(rest);
        }
        c
    }

    /// Parsed termination message of step `i` (StartedAt format checked, value blanked).
    pub fn termination(&self, i: usize) -> Vec<Entry> {
        let raw = self
            .read(&format!("termination-{i}"))
            .unwrap_or_else(|| panic!("no termination message for step {i}"));
        parse_entries(&raw)
    }

    /// Post file state of step `i`: "out", "out.err", "none" or "both".
    pub fn post(&self, i: usize) -> &'static str {
        let ok = self.exists(&format!("run/{i}/out"));
        let err = self.exists(&format!("run/{i}/out.err"));
        match (ok, err) {
            (true, false) => "out",
            (false, true) => "out.err",
            (false, false) => "none",
            (true, true) => "both",
        }
    }

    pub fn exit_code_file(&self, i: usize) -> Option<String> {
        self.read(&format!("run/{i}/status/exitCode"))
    }
}

pub fn parse_entries(raw: &str) -> Vec<Entry> {
    let v: serde_json::Value =
        serde_json::from_str(raw).unwrap_or_else(|e| panic!("bad message {raw:?}: {e}"));
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| {
            let key = x["key"].as_str().expect("key").to_string();
            let mut value = x["value"].as_str().expect("value").to_string();
            if key == "StartedAt" {
                assert!(is_started_at(&value), "StartedAt format: {value}");
                value.clear();
            }
            (key, value, x["type"].as_u64().unwrap_or(0) as u8)
        })
        .collect()
}

/// `2006-01-02T15:04:05.000Z07:00`.
pub fn is_started_at(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let zone = &s.get(23..).unwrap_or("");
    let zone_ok = *zone == "Z"
        || (zone.len() == 6
            && (zone.starts_with('+') || zone.starts_with('-'))
            && zone.as_bytes()[3] == b':');
    b.len() >= 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && zone_ok
}

pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut c: Command) -> Outcome {
    c.stdin(Stdio::null());
    outcome(c.output().expect("spawn entrypoint"))
}

pub fn outcome(o: Output) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    Outcome {
        code: o.status.code(),
        signal: o.status.signal(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn spawn(mut c: Command) -> Child {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn entrypoint")
}

/// Polls `cond` up to `limit`.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Waits for `child` up to `limit`; kills it (and fails) if it does not finish.
pub fn finish(mut child: Child, limit: Duration) -> Outcome {
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return outcome(child.wait_with_output().expect("output"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = outcome(child.wait_with_output().expect("output"));
            panic!(
                "entrypoint did not finish in {limit:?}; stderr: {}",
                o.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn kill(pid: u32, sig: i32) {
    // SAFETY: kill has no memory arguments.
    unsafe { libc::kill(pid as i32, sig) };
}

/// `TEKTON_PLATFORM_COMMANDS` with the same command for every plausible platform key.
pub fn platform_commands(cmd: &[&str]) -> String {
    let keys = [
        "linux",
        "linux/amd64",
        "linux/arm64",
        "linux/arm64/v8",
        "linux/arm",
        "linux/s390x",
        "linux/ppc64le",
        "linux/riscv64",
        "linux/386",
    ];
    let map: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| (k.to_string(), serde_json::json!(cmd)))
        .collect();
    serde_json::Value::Object(map).to_string()
}
