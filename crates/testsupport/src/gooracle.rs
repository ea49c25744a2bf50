//! The one harness for differential tests against Go: an oracle program built once per test
//! process with [`crate::go_build`] (skipped with a reason without Go), fed one line per input
//! on stdin, answering one line per input; and [`Rng`], the deterministic input generator.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A built Go oracle.
pub struct GoOracle(PathBuf);

impl GoOracle {
    /// Builds `src` (GOPATH mode) into `bin` on first use; `None` when Go is missing ([`crate::skip`]
    /// has reported it, a failure under `STEPKIT_REQUIRE_ALL=1`).
    pub fn get(
        cell: &'static OnceLock<Option<GoOracle>>,
        src: &Path,
        bin: &Path,
    ) -> Option<&'static GoOracle> {
        cell.get_or_init(|| crate::go_build(src, bin, &[("GO111MODULE", "off")]).map(GoOracle))
            .as_ref()
    }

    /// The built program, for a mode that reads no input.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Runs the oracle with `args`, one stdin line per input; its stdout lines, one per input.
    #[track_caller]
    pub fn run(&self, args: &[&str], lines: impl IntoIterator<Item = String>) -> Vec<String> {
        let body: String = lines.into_iter().map(|l| l + "\n").collect();
        let want = body.lines().count();
        let mut child = Command::new(&self.0)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.0.display()));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
        let out = child.wait_with_output().expect("oracle output");
        writer.join().expect("writer thread").expect("oracle stdin");
        assert!(out.status.success(), "oracle {args:?} failed");
        let lines: Vec<String> = String::from_utf8(out.stdout)
            .expect("oracle output is UTF-8")
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(lines.len(), want, "one oracle line per input");
        lines
    }
}

/// Deterministic pseudo-random numbers (xorshift64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}
