//! The orchestration with a scripted engine: post files, exitCode, termination entries.

use super::*;
use std::collections::VecDeque;

struct FakeEngine {
    waits: VecDeque<Result<(), WaitError>>,
    run_result: Result<(), RunError>,
    waited: Vec<String>,
    ran: Vec<Vec<String>>,
    deadline_seen: Option<Option<Instant>>,
}

impl FakeEngine {
    fn new(run_result: Result<(), RunError>) -> Self {
        FakeEngine {
            waits: VecDeque::new(),
            run_result,
            waited: Vec::new(),
            ran: Vec::new(),
            deadline_seen: None,
        }
    }
}

impl Engine for FakeEngine {
    fn wait(&mut self, file: &str, _: WaitRules) -> Result<(), WaitError> {
        self.waited.push(file.to_string());
        if file.is_empty() {
            return Ok(());
        }
        self.waits.pop_front().unwrap_or(Ok(()))
    }
    fn run_command(
        &mut self,
        command: &[String],
        _: &Env,
        deadline: Option<Instant>,
    ) -> Result<(), RunError> {
        self.ran.push(command.to_vec());
        self.deadline_seen = Some(deadline);
        self.run_result.clone()
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    step: Step,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let s = |p: &str| root.join(p).to_string_lossy().into_owned();
        let cfg = Config {
            wait_files: vec![String::new()],
            post_file: s("run/1/out"),
            termination_path: s("termination"),
            results: vec![String::new()],
            step_results: vec![String::new()],
            step_metadata_dir: s("run/1/status"),
            result_from: "termination-message".into(),
            ..Config::default()
        };
        let layout = Layout::new(root.join("tekton"), root.join("workspace"));
        Fixture {
            step: Step {
                cfg,
                layout,
                command: vec!["cmd".into(), "arg".into()],
                when: Vec::new(),
                env: Vec::new(),
            },
            dir,
        }
    }
    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }
    fn exists(&self, p: &str) -> bool {
        self.path(p).exists()
    }
    fn exit_code(&self) -> Option<String> {
        std::fs::read_to_string(self.path("run/1/status/exitCode")).ok()
    }
    /// (key, value, type) of every entry, StartedAt's value checked and blanked.
    fn entries(&self) -> Vec<(String, String, u8)> {
        let raw = std::fs::read(self.path("termination")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        let re_ok = |s: &str| {
            // 2006-01-02T15:04:05.000Z07:00
            let b = s.as_bytes();
            b.len() >= 24
                && b[4] == b'-'
                && b[10] == b'T'
                && b[19] == b'.'
                && s[20..23].bytes().all(|c| c.is_ascii_digit())
        };
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let key = e["key"].as_str().unwrap().to_string();
                let mut value = e["value"].as_str().unwrap().to_string();
                if key == "StartedAt" {
                    assert!(re_ok(&value), "StartedAt {value}");
                    value.clear();
                }
                (key, value, e["type"].as_u64().unwrap_or(0) as u8)
            })
            .collect()
    }
    fn execute(&mut self, engine: &mut FakeEngine) -> Result<(), StepError> {
        execute(&mut self.step, engine)
    }
}

fn e(key: &str, value: &str, t: u8) -> (String, String, u8) {
    (key.into(), value.into(), t)
}

#[test]
fn success() {
    let mut f = Fixture::new();
    let mut eng = FakeEngine::new(Ok(()));
    assert_eq!(f.execute(&mut eng), Ok(()));
    assert!(f.exists("run/1/out") && !f.exists("run/1/out.err"));
    assert_eq!(f.exit_code().as_deref(), Some("0"));
    assert!(f.exists("run/1/status/results") && f.exists("run/1/status/artifacts"));
    assert_eq!(f.entries(), vec![e("StartedAt", "", 3)]);
    assert_eq!(eng.ran, vec![vec!["cmd".to_string(), "arg".to_string()]]);
    assert_eq!(eng.deadline_seen, Some(None));
}

#[test]
fn child_fails() {
    let mut f = Fixture::new();
    let mut eng = FakeEngine::new(Err(RunError::Exit(ChildStatus::Exited(3))));
    assert_eq!(
        f.execute(&mut eng),
        Err(StepError::ChildExit(ChildStatus::Exited(3)))
    );
    assert!(f.exists("run/1/out.err") && !f.exists("run/1/out"));
    assert_eq!(f.exit_code(), None);
    assert_eq!(f.entries(), vec![e("StartedAt", "", 3)]);
}

#[test]
fn on_error_continue() {
    for (status, code) in [
        (ChildStatus::Exited(3), "3"),
        (ChildStatus::Signaled(9), "-1"),
    ] {
        let mut f = Fixture::new();
        f.step.cfg.on_error = "continue".into();
        let mut eng = FakeEngine::new(Err(RunError::Exit(status)));
        assert_eq!(f.execute(&mut eng), Err(StepError::ChildExit(status)));
        assert!(f.exists("run/1/out") && !f.exists("run/1/out.err"));
        assert_eq!(f.exit_code().as_deref(), Some(code));
        assert_eq!(
            f.entries(),
            vec![e("StartedAt", "", 3), e("ExitCode", code, 3)]
        );
    }
}

#[test]
fn skip_on_previous_failure_and_dead_predecessor() {
    for we in [WaitError::Skip, WaitError::PredecessorGone] {
        let mut f = Fixture::new();
        f.step.cfg.wait_files = vec!["/x/out".into()];
        let mut eng = FakeEngine::new(Ok(()));
        eng.waits.push_back(Err(we));
        assert_eq!(f.execute(&mut eng), Err(StepError::Skip));
        assert!(f.exists("run/1/out.err"));
        assert_eq!(f.exit_code(), None);
        assert!(eng.ran.is_empty());
        assert_eq!(
            f.entries(),
            vec![e("StartedAt", "", 3), e("Reason", "Skipped", 3)]
        );
    }
}

#[test]
fn wait_error_with_breakpoint_writes_no_post_file() {
    let mut f = Fixture::new();
    f.step.cfg.wait_files = vec!["/x/out".into()];
    f.step.cfg.breakpoint_on_failure = true;
    let mut eng = FakeEngine::new(Ok(()));
    eng.waits
        .push_back(Err(WaitError::Failed("waiting for x".into())));
    assert_eq!(
        f.execute(&mut eng),
        Err(StepError::Other("waiting for x".into()))
    );
    assert!(!f.exists("run/1/out.err") && !f.exists("run/1/out"));
    assert_eq!(f.entries(), vec![e("StartedAt", "", 3)]);
}

#[test]
fn multiple_wait_files_in_order() {
    let mut f = Fixture::new();
    f.step.cfg.wait_files = vec!["a".into(), "b".into()];
    let mut eng = FakeEngine::new(Ok(()));
    assert_eq!(f.execute(&mut eng), Ok(()));
    assert_eq!(eng.waited, vec!["a", "b"]);
}

#[test]
fn timeout_and_cancel() {
    let mut f = Fixture::new();
    f.step.cfg.timeout = 1_000_000;
    let mut eng = FakeEngine::new(Err(RunError::DeadlineExceeded));
    assert_eq!(f.execute(&mut eng), Err(StepError::DeadlineExceeded));
    assert!(matches!(eng.deadline_seen, Some(Some(_))));
    assert!(f.exists("run/1/out.err"));
    assert_eq!(f.exit_code(), None);
    assert_eq!(
        f.entries(),
        vec![e("StartedAt", "", 3), e("Reason", "TimeoutExceeded", 3)]
    );

    let mut f = Fixture::new();
    let mut eng = FakeEngine::new(Err(RunError::Cancelled));
    assert_eq!(f.execute(&mut eng), Err(StepError::Cancelled));
    assert!(f.exists("run/1/out.err"));
    assert_eq!(f.exit_code().as_deref(), Some("killed"));
    assert_eq!(
        f.entries(),
        vec![e("StartedAt", "", 3), e("Reason", "Cancelled", 3)]
    );
}

#[test]
fn negative_timeout() {
    let mut f = Fixture::new();
    f.step.cfg.timeout = -1;
    let mut eng = FakeEngine::new(Ok(()));
    assert_eq!(
        f.execute(&mut eng),
        Err(StepError::Other("negative timeout specified".into()))
    );
    assert!(eng.ran.is_empty());
    assert!(f.exists("run/1/out.err"));
}

#[test]
fn debug_before_step() {
    let mut f = Fixture::new();
    f.step.cfg.debug_before_step = true;
    let mut eng = FakeEngine::new(Ok(()));
    assert_eq!(f.execute(&mut eng), Ok(()));
    let pf = f.step.cfg.post_file.clone();
    assert_eq!(
        eng.waited,
        vec!["".to_string(), format!("{pf}.beforestepexit")]
    );

    let mut f = Fixture::new();
    f.step.cfg.debug_before_step = true;
    let mut eng = FakeEngine::new(Ok(()));
    eng.waits.push_back(Err(WaitError::Skip));
    assert_eq!(f.execute(&mut eng), Err(StepError::DebugBeforeStep));
    assert!(eng.ran.is_empty());
    assert!(f.exists("run/1/out.err"));
    assert_eq!(f.entries(), vec![e("StartedAt", "", 3)]);
}

#[test]
fn failure_with_breakpoint_skips_post_file() {
    let mut f = Fixture::new();
    f.step.cfg.breakpoint_on_failure = true;
    let mut eng = FakeEngine::new(Err(RunError::Exit(ChildStatus::Exited(1))));
    assert!(f.execute(&mut eng).is_err());
    assert!(!f.exists("run/1/out") && !f.exists("run/1/out.err"));
}

#[test]
fn when_false_skips_successfully() {
    let mut f = Fixture::new();
    f.step.when = when::parse(r#"[{"input":"foo","operator":"in","values":["bar"]}]"#).unwrap();
    let mut eng = FakeEngine::new(Ok(()));
    assert_eq!(f.execute(&mut eng), Ok(()));
    assert!(eng.ran.is_empty());
    assert!(f.exists("run/1/out"));
    assert_eq!(f.exit_code().as_deref(), Some("0"));
    assert_eq!(
        f.entries(),
        vec![e("StartedAt", "", 3), e("Reason", "Skipped", 3)]
    );
}

#[test]
fn results_and_artifacts_order() {
    let mut f = Fixture::new();
    f.step.cfg.results = vec!["digest".into(), "missing".into()];
    f.step.cfg.step_results = vec!["report".into()];
    let results = f.step.layout.results_dir();
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(results.join("digest"), "sha256:abc").unwrap();
    std::fs::create_dir_all(f.path("run/1/status/results")).unwrap();
    std::fs::write(f.path("run/1/status/results/report"), "https://x").unwrap();
    std::fs::create_dir_all(f.path("run/1/status/artifacts")).unwrap();
    std::fs::write(f.path("run/1/status/artifacts/provenance.json"), "{}").unwrap();
    let task_art = f.step.layout.artifacts_dir();
    std::fs::create_dir_all(&task_art).unwrap();
    std::fs::write(task_art.join("provenance.json"), "[]").unwrap();
    let mut eng = FakeEngine::new(Ok(()));
    assert_eq!(f.execute(&mut eng), Ok(()));
    let step_key = f
        .path("run/1/status/artifacts/provenance.json")
        .to_string_lossy()
        .into_owned();
    let task_key = task_art
        .join("provenance.json")
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        f.entries(),
        vec![
            e("digest", "sha256:abc", 1),
            e("report", "https://x", 4),
            e("StartedAt", "", 3),
            e(&step_key, "{}", 5),
            e(&task_key, "[]", 6),
        ]
    );
}

#[test]
fn results_read_even_on_failure_but_not_with_sidecar_logs() {
    let mut f = Fixture::new();
    f.step.cfg.results = vec!["digest".into()];
    let results = f.step.layout.results_dir();
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(results.join("digest"), "x").unwrap();
    let mut eng = FakeEngine::new(Err(RunError::Exit(ChildStatus::Exited(2))));
    assert!(f.execute(&mut eng).is_err());
    assert_eq!(
        f.entries(),
        vec![e("digest", "x", 1), e("StartedAt", "", 3)]
    );

    let mut f = Fixture::new();
    f.step.cfg.results = vec!["digest".into()];
    f.step.cfg.result_from = "sidecar-logs".into();
    let results = f.step.layout.results_dir();
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(results.join("digest"), "x").unwrap();
    let mut eng = FakeEngine::new(Ok(()));
    assert_eq!(f.execute(&mut eng), Ok(()));
    assert_eq!(f.entries(), vec![e("StartedAt", "", 3)]);
}

#[test]
fn oversized_results() {
    let mut f = Fixture::new();
    f.step.cfg.results = vec!["big".into()];
    let results = f.step.layout.results_dir();
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(results.join("big"), "x".repeat(5000)).unwrap();
    let mut eng = FakeEngine::new(Ok(()));
    assert_eq!(f.execute(&mut eng), Err(StepError::TooLarge));
    assert!(f.exists("run/1/out"));
    assert_eq!(f.exit_code().as_deref(), Some("0"));
    assert_eq!(f.entries(), vec![e("StartedAt", "", 3)]);
}

#[test]
fn start_failure_is_row_g() {
    let mut f = Fixture::new();
    let msg = "exec: \"nope\": executable file not found in $PATH".to_string();
    let mut eng = FakeEngine::new(Err(RunError::Other(msg.clone())));
    assert_eq!(f.execute(&mut eng), Err(StepError::Other(msg)));
    assert!(f.exists("run/1/out.err"));
    assert_eq!(f.exit_code(), None);
}

#[test]
fn empty_post_file_writes_nothing() {
    let mut f = Fixture::new();
    f.step.cfg.post_file = String::new();
    let mut eng = FakeEngine::new(Err(RunError::Exit(ChildStatus::Exited(1))));
    assert!(f.execute(&mut eng).is_err());
    assert!(!f.exists("run/1/out.err") && !f.exists("run/1/out"));
}
