//! Per-step task results (src/reported.rs, docs/contract.md §2.3): a step's message carries only
//! the task results it created or changed, and the TaskRun's results — the controller's merge
//! of all steps' messages, last step winning — are those of upstream's all-results messages.
//!
//! Upstream's behaviour is this binary with no record from the previous step (its fallback:
//! report every result, the byte-compatible path the other differential tests cover), obtained
//! by deleting the records before each step.

mod common;

use std::collections::BTreeMap;

use common::*;

const STEPS: usize = 12;

/// Deterministic lowercase hex (compresses to ~half, like digests).
fn value(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            b"0123456789abcdef"[(x >> 60) as usize] as char
        })
        .collect()
}

/// What one step does to `/tekton/results` before it ends.
enum Op {
    Write(usize, String),
    Delete(usize),
}

/// Runs the steps in order in a fresh pod, each with the full `-results` list as the
/// controller passes it; `upstream` deletes the previous record first. Returns each step's
/// exit code and termination message (raw).
fn run_steps(
    steps: &[Vec<Op>],
    names: &[String],
    compress: bool,
    upstream: bool,
) -> Vec<(Option<i32>, Vec<u8>)> {
    let pod = Pod::new();
    let list = names.join(",");
    let mut flags = vec!["-results", list.as_str()];
    if compress {
        flags.push("-compress_termination_message=true");
    }
    let mut out = Vec::new();
    for (i, ops) in steps.iter().enumerate() {
        for op in ops {
            match op {
                Op::Write(r, v) => pod.write(&format!("results/{}", names[*r]), v),
                Op::Delete(r) => {
                    let _ = std::fs::remove_file(pod.t(&format!("results/{}", names[*r])));
                }
            }
        }
        if upstream {
            for j in 0..i {
                let _ = std::fs::remove_file(pod.t(&format!("run/{j}/task-results.sha256")));
            }
        }
        let o = run(pod.step(i, &flags, &["true"]));
        let msg = std::fs::read(pod.t(&format!("termination-{i}"))).unwrap_or_default();
        out.push((o.code, msg));
    }
    out
}

/// The controller: task results of every step's message, in step order, last value winning.
fn taskrun_results(messages: &[(Option<i32>, Vec<u8>)]) -> BTreeMap<String, String> {
    let mut merged = BTreeMap::new();
    for (_, msg) in messages {
        for entry in termination::parse_message(msg).expect("message parses") {
            if entry.result_type == termination::TASK_RUN_RESULT {
                merged.insert(entry.key.clone(), entry.value_str());
            }
        }
    }
    merged
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("result-{i}")).collect()
}

/// Twelve steps each writing one 450-byte result: upstream's messages repeat every earlier
/// result and overflow 4096 bytes at step 8; ours hold one result each and all succeed.
#[test]
fn twelve_steps_of_450_byte_results() {
    let names = names(STEPS);
    let steps: Vec<Vec<Op>> = (0..STEPS)
        .map(|i| vec![Op::Write(i, value(i as u64, 450))])
        .collect();

    let upstream = run_steps(&steps, &names, false, true);
    let first_failure = upstream.iter().position(|(code, _)| *code != Some(0));
    assert_eq!(
        first_failure,
        Some(8),
        "upstream-style overflow expected at step 8"
    );

    let ours = run_steps(&steps, &names, false, false);
    for (i, (code, msg)) in ours.iter().enumerate() {
        assert_eq!(*code, Some(0), "step {i}");
        let entries = termination::parse_message(msg).unwrap();
        let keys: Vec<&str> = entries
            .iter()
            .filter(|e| e.result_type == termination::TASK_RUN_RESULT)
            .map(|e| e.key.as_str())
            .collect();
        assert_eq!(
            keys,
            vec![names[i].as_str()],
            "step {i} reports only its result"
        );
        assert!(msg.len() < 600, "step {i}: {} bytes", msg.len());
    }
    let merged = taskrun_results(&ours);
    let want: BTreeMap<String, String> = (0..STEPS)
        .map(|i| (names[i].clone(), value(i as u64, 450)))
        .collect();
    assert_eq!(merged, want);
    // Where upstream still succeeded (steps 0–7), the TaskRun's results agree too.
    assert_eq!(taskrun_results(&ours[..8]), taskrun_results(&upstream[..8]));
}

/// Random rewrites (same value, new value, back to an older value, deletions), plain and
/// compressed: wherever every upstream-style step succeeds, the TaskRun's results are
/// identical after each step, and no message of ours is longer than upstream's.
#[test]
fn taskrun_results_match_upstream_on_random_histories() {
    let names = names(6);
    let mut seed = 0x5eed_u64;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut compared = 0;
    for round in 0..8 {
        let steps: Vec<Vec<Op>> = (0..5)
            .map(|_| {
                (0..next(4))
                    .map(|_| {
                        let r = next(names.len() as u64) as usize;
                        match next(5) {
                            0 => Op::Delete(r),
                            // Few distinct values: rewrites of the same or an older value.
                            _ => Op::Write(r, value(next(3), 40 + 10 * r)),
                        }
                    })
                    .collect()
            })
            .collect();
        let compress = round % 2 == 1;
        let upstream = run_steps(&steps, &names, compress, true);
        let ours = run_steps(&steps, &names, compress, false);
        assert!(upstream.iter().all(|(code, _)| *code == Some(0)));
        for i in 0..steps.len() {
            assert_eq!(ours[i].0, Some(0), "round {round} step {i}");
            assert_eq!(
                taskrun_results(&ours[..=i]),
                taskrun_results(&upstream[..=i]),
                "round {round} after step {i}"
            );
            // Never longer, but for the compressed `StartedAt` time (a few bytes either way).
            assert!(ours[i].1.len() <= upstream[i].1.len() + 8);
            compared += 1;
        }
    }
    assert_eq!(compared, 40);
}

/// A step after one without a record (upstream's entrypoint, or a skipped step) reports all
/// its results; the step after it filters again.
#[test]
fn missing_record_falls_back_to_all_results() {
    let names = names(2);
    let pod = Pod::new();
    let list = names.join(",");
    pod.write("results/result-0", "a");
    pod.write("results/result-1", "b");
    let task_results = |i: usize| -> Vec<String> {
        pod.termination(i)
            .into_iter()
            .filter(|(_, _, t)| *t == 1)
            .map(|(k, _, _)| k)
            .collect()
    };
    for i in 0..3 {
        if i == 1 {
            std::fs::remove_file(pod.t("run/0/task-results.sha256")).unwrap();
        }
        let o = run(pod.step(i, &["-results", &list], &["true"]));
        assert_eq!(o.code, Some(0), "{}", o.stderr);
    }
    assert_eq!(task_results(0), names);
    assert_eq!(task_results(1), names);
    assert!(task_results(2).is_empty());
    assert_eq!(
        pod.read("run/2/task-results.sha256")
            .unwrap()
            .lines()
            .count(),
        2
    );
}
