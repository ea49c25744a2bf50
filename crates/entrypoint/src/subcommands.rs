//! The entrypoint's subcommands (`init`, `cp`, `decode-script`, `step-init`), checked on the
//! positional arguments left after flag parsing.
//!
//! The `prepare` init container runs `entrypoint init <src> <dst> <step names…>` to copy the
//! binary into `/tekton/bin` and create the `/tekton/steps` symlinks; `place-scripts` runs
//! `decode-script` on base64-encoded step scripts. Arity rules, log lines and error texts follow
//! upstream exactly: a subcommand that does not get its arity is not a match, and the
//! entrypoint then continues in normal mode.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use gocompat::{base64 as gobase64, files, fs as gofs};
use goflag::go_quote;
use stepkit_layout::Layout;

/// `init <src> <dst> [<step name>…]`
pub const INIT: &str = "init";
/// `cp <src> <dst>`
pub const CP: &str = "cp";
/// `decode-script <path>`
pub const DECODE_SCRIPT: &str = "decode-script";
/// `step-init [<step name>…]`
pub const STEP_INIT: &str = "step-init";

/// Mode of the copied binary: owner write+execute, everyone execute (before umask).
const COPY_MODE: u32 = 0o311;

/// Runs the subcommand `positional` names, if any (upstream `subcommands.Process` plus the
/// handling in `main`). Returns `None` when nothing matched (normal mode continues), otherwise
/// logs the success or error line and returns the exit code (0 or 1).
pub fn dispatch(positional: &[String], layout: &Layout) -> Option<i32> {
    let outcome = process(positional, layout)?;
    Some(match outcome {
        Ok(message) => {
            golog::log(&message);
            0
        }
        Err(line) => {
            golog::log(&line);
            1
        }
    })
}

/// Matches and runs a subcommand without logging: `None` if nothing matched, `Ok(success
/// message)`, or `Err(log line)` — `<subcommand> error: <message>`, or the fatal
/// `Error creating steps directory …` line (also exit 1, without the prefix).
pub fn process(args: &[String], layout: &Layout) -> Option<Result<String, String>> {
    let (name, rest) = args.split_first()?;
    let prefixed = |err: String| format!("{name} error: {err}");
    let from_failure = |failure: Failure| match failure {
        Failure::Error(err) => prefixed(err),
        Failure::Fatal(line) => line,
    };
    match (name.as_str(), rest) {
        (INIT, [src, dst, steps @ ..]) => Some(
            init(src, dst, steps, layout)
                .map(|()| "Entrypoint initialization".to_string())
                .map_err(from_failure),
        ),
        (CP, [src, dst]) => Some(
            cp(src, dst)
                .map(|()| format!("Copied {src} to {dst}"))
                .map_err(prefixed),
        ),
        (DECODE_SCRIPT, [path]) => Some(
            decode_script(path)
                .map(|()| format!("Decoded script {path}"))
                .map_err(prefixed),
        ),
        (STEP_INIT, steps) => Some(
            step_init(steps, layout)
                .map(|()| "Setup /step directories".to_string())
                .map_err(from_failure),
        ),
        _ => None,
    }
}

/// How `step-init` (and so `init`) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An ordinary subcommand error (logged as `<subcommand> error: <message>`).
    Error(String),
    /// Upstream's `log.Fatalf`: the whole log line, logged as is.
    Fatal(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(msg) | Failure::Fatal(msg) => f.write_str(msg),
        }
    }
}

/// Copies `src` to `dst`, opening `dst` with `O_WRONLY|O_CREAT` and mode 0311: no truncation,
/// and an existing file keeps its mode (the copy target is a fresh emptyDir in practice).
pub fn cp(src: &str, dst: &str) -> Result<(), String> {
    let mut input = File::open(src).map_err(|e| gofs::path_error("open", src, &e))?;
    let mut output = OpenOptions::new()
        .write(true)
        .create(true)
        .mode(COPY_MODE)
        .open(dst)
        .map_err(|e| gofs::path_error("open", dst, &e))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Go copies with copy_file_range and reports a directory source as a write error.
            Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
                return Err(format!(
                    "write {dst}: copy_file_range: {}",
                    gofs::io_error_text(&e)
                ));
            }
            Err(e) => return Err(gofs::path_error("read", src, &e)),
        };
        output
            .write_all(&buf[..n])
            .map_err(|e| gofs::path_error("write", dst, &e))?;
    }
}

/// Replaces the base64 script at `path` with its decoded content, keeping its permission bits.
/// Decoding is Go's `StdEncoding` (padding required, `\r`/`\n` skipped anywhere).
pub fn decode_script(path: &str) -> Result<(), String> {
    let quoted = go_quote(path);
    let (decoded, perms) =
        read_and_decode(path).map_err(|e| format!("error decoding script file {quoted}: {e}"))?;
    write_file(path, &decoded, perms)
        .map_err(|e| format!("error writing decoded script file {quoted}: {e}"))
}

fn read_and_decode(path: &str) -> Result<(Vec<u8>, u32), String> {
    let quoted = go_quote(path);
    let reading = |e: String| format!("error reading from script file {quoted}: {e}");
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| reading(gofs::path_error("open", path, &e)))?;
    let perms = file
        .metadata()
        .map_err(|e| {
            format!(
                "error statting script file {quoted}: {}",
                gofs::path_error("stat", path, &e)
            )
        })?
        .mode()
        & 0o777;
    // A script comes from the pod spec, so it is under the pod's own size limit.
    let encoded = files::read_opened_bounded(file, files::MAX_POD_SPEC_BYTES).map_err(|e| {
        reading(match e {
            files::ReadError::Io(op, err) => gofs::path_error(op, path, &err),
            other => other.text(path),
        })
    })?;
    let decoded = gobase64::decode_std(&encoded)
        .map_err(|e| format!("error decoding script file {quoted}: {e}"))?;
    Ok((decoded, perms))
}

/// Go's `os.WriteFile`: `O_WRONLY|O_CREAT|O_TRUNC` with `perms` for a new file.
fn write_file(path: &str, data: &[u8], perms: u32) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(perms)
        .open(path)
        .map_err(|e| gofs::path_error("open", path, &e))?;
    file.write_all(data)
        .map_err(|e| gofs::path_error("write", path, &e))
}

/// Creates `<tekton>/steps` (0777) and, for the step at index `i`, the symlinks
/// `<tekton>/steps/<name>` and `<tekton>/steps/<i>` → `<tekton>/run/<i>/status`. Existing
/// links are kept, so a restarted init container succeeds.
pub fn step_init(steps: &[String], layout: &Layout) -> Result<(), Failure> {
    let root = layout.tekton().to_string_lossy();
    let steps_dir = gofs::join(&[&root, "steps"]);
    gofs::mkdir_all(&steps_dir, 0o777).map_err(|e| {
        Failure::Fatal(format!(
            "Error creating steps directory {}: {e}",
            go_quote(&steps_dir)
        ))
    })?;
    for (i, name) in steps.iter().enumerate() {
        let index = i.to_string();
        let target = gofs::join(&[&root, "run", &index, "status"]);
        for link in [
            gofs::join(&[&steps_dir, name]),
            gofs::join(&[&steps_dir, &index]),
        ] {
            match std::os::unix::fs::symlink(&target, &link) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Failure::Error(format!(
                        "symlink {target} {link}: {}",
                        gofs::io_error_text(&e)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// `cp(src, dst)` then `step_init(steps)`.
pub fn init(src: &str, dst: &str, steps: &[String], layout: &Layout) -> Result<(), Failure> {
    cp(src, dst).map_err(Failure::Error)?;
    step_init(steps, layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    const SCRIPT_B64: &str = "IyEvdXNyL2Jpbi9lbnYgc2gKZWNobyAiSGVsbG8gV29ybGQhIgo=";
    const SCRIPT: &str = "#!/usr/bin/env sh\necho \"Hello World!\"\n";

    struct Env {
        _dir: tempfile::TempDir,
        root: std::path::PathBuf,
        layout: Layout,
    }

    fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let layout = Layout::new(root.join("tekton"), root.join("workspace"));
        Env {
            _dir: dir,
            root,
            layout,
        }
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn s(p: &Path) -> String {
        p.to_str().unwrap().to_string()
    }

    #[test]
    fn successful_subcommands() {
        let e = env();
        let src = e.root.join("src");
        fs::write(&src, "hello").unwrap();
        let dst = e.root.join("dst");
        assert_eq!(
            process(&args(&["cp", &s(&src), &s(&dst)]), &e.layout),
            Some(Ok(format!("Copied {} to {}", s(&src), s(&dst))))
        );
        let script = e.root.join("script");
        fs::write(&script, SCRIPT_B64).unwrap();
        assert_eq!(
            process(&args(&["decode-script", &s(&script)]), &e.layout),
            Some(Ok(format!("Decoded script {}", s(&script))))
        );
        for call in [&["step-init"][..], &["step-init", "foo", "bar"]] {
            assert_eq!(
                process(&args(call), &e.layout),
                Some(Ok("Setup /step directories".to_string()))
            );
        }
        assert_eq!(
            process(&args(&["init", &s(&src), &s(&dst)]), &e.layout),
            Some(Ok("Entrypoint initialization".to_string()))
        );
        assert_eq!(dispatch(&args(&["step-init"]), &e.layout), Some(0));
    }

    #[test]
    fn ignores_non_subcommands_and_wrong_arity() {
        let e = env();
        for call in [
            &[][..],
            &["not-a-subcommand"],
            &[""],
            &["cp"],
            &["cp", "a"],
            &["cp", "a", "b", "c"],
            &["decode-script"],
            &["decode-script", "a", "b"],
            &["init"],
            &["init", "a"],
            &["CP", "a", "b"],
        ] {
            assert_eq!(process(&args(call), &e.layout), None, "{call:?}");
            assert_eq!(dispatch(&args(call), &e.layout), None);
        }
    }

    #[test]
    fn cp_copies_with_restricted_mode() {
        let e = env();
        let src = e.root.join("src");
        fs::write(&src, "hello world").unwrap();
        let dst = e.root.join("dst");
        cp(&s(&src), &s(&dst)).unwrap();
        assert_eq!(fs::read(&dst).unwrap(), b"hello world");
        let mode = fs::metadata(&dst).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode & !0o311, 0, "mode {mode:o} must be within 0311");
    }

    #[test]
    fn cp_does_not_truncate() {
        let e = env();
        let src = e.root.join("src");
        fs::write(&src, "new").unwrap();
        let dst = e.root.join("dst");
        fs::write(&dst, "old-and-longer").unwrap();
        cp(&s(&src), &s(&dst)).unwrap();
        assert_eq!(fs::read(&dst).unwrap(), b"new-and-longer");
    }

    #[test]
    fn cp_error_texts_match_go() {
        let e = env();
        let dir = s(&e.root);
        let src = e.root.join("f");
        fs::write(&src, "x").unwrap();
        let out = s(&e.root.join("out"));
        assert_eq!(
            cp(&dir, &out).unwrap_err(),
            format!("write {out}: copy_file_range: is a directory")
        );
        assert_eq!(
            cp(&s(&src), &dir).unwrap_err(),
            format!("open {dir}: is a directory")
        );
        let missing = format!("{dir}/nodir/x");
        assert_eq!(
            cp(&s(&src), &missing).unwrap_err(),
            format!("open {missing}: no such file or directory")
        );
    }

    #[test]
    fn cp_missing_source() {
        let e = env();
        let src = s(&e.root.join("missing"));
        let dst = s(&e.root.join("dst"));
        assert_eq!(
            cp(&src, &dst).unwrap_err(),
            format!("open {src}: no such file or directory")
        );
        assert_eq!(
            process(&args(&["cp", &src, &dst]), &e.layout),
            Some(Err(format!(
                "cp error: open {src}: no such file or directory"
            )))
        );
        assert_eq!(dispatch(&args(&["cp", &src, &dst]), &e.layout), Some(1));
        assert!(!Path::new(&dst).exists());
    }

    #[test]
    fn decode_script_keeps_mode() {
        let e = env();
        let path = e.root.join("script");
        fs::write(&path, format!("{SCRIPT_B64}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        decode_script(&s(&path)).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), SCRIPT);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn decode_script_missing_file() {
        let e = env();
        let path = s(&e.root.join("missing"));
        assert_eq!(
            decode_script(&path).unwrap_err(),
            format!(
                "error decoding script file \"{path}\": error reading from script file \"{path}\": open {path}: no such file or directory"
            )
        );
    }

    #[test]
    fn decode_script_invalid_base64() {
        let e = env();
        let path = e.root.join("script");
        fs::write(&path, "!").unwrap();
        let p = s(&path);
        assert_eq!(
            process(&args(&["decode-script", &p]), &e.layout),
            Some(Err(format!(
                "decode-script error: error decoding script file \"{p}\": error decoding script file \"{p}\": illegal base64 data at input byte 0"
            )))
        );
        assert_eq!(fs::read(&path).unwrap(), b"!", "file untouched on error");
        fs::write(&path, "aGVsbG8gd29ybGQ hi").unwrap();
        assert!(
            decode_script(&p)
                .unwrap_err()
                .ends_with("illegal base64 data at input byte 15")
        );
    }

    fn assert_links(layout: &Layout) {
        let steps = layout.steps_dir();
        for (link, index) in [("a", 0), ("0", 0), ("b", 1), ("1", 1)] {
            assert_eq!(
                fs::read_link(steps.join(link)).unwrap(),
                layout.step_status_dir(index),
                "link {link}"
            );
        }
    }

    #[test]
    fn step_init_creates_links_idempotently() {
        let e = env();
        let names = args(&["a", "b"]);
        step_init(&names, &e.layout).unwrap();
        assert_links(&e.layout);
        step_init(&names, &e.layout).unwrap();
        assert_links(&e.layout);
        let mode = fs::metadata(e.layout.steps_dir())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & !0o777 & 0o7777, 0);
    }

    #[test]
    fn entrypoint_init_copies_and_links() {
        let e = env();
        let src = e.root.join("src");
        fs::write(&src, "binary").unwrap();
        let bin = e.layout.bin_dir();
        fs::create_dir_all(&bin).unwrap();
        let dst = bin.join("entrypoint");
        let call = args(&["init", &s(&src), &s(&dst), "a", "b"]);
        assert_eq!(dispatch(&call, &e.layout), Some(0));
        assert_eq!(fs::read(&dst).unwrap(), b"binary");
        assert_eq!(
            fs::metadata(&dst).unwrap().permissions().mode() & 0o7777 & !0o311,
            0
        );
        assert_links(&e.layout);
        assert_eq!(dispatch(&call, &e.layout), Some(0), "second run succeeds");
    }

    #[test]
    fn init_fails_on_missing_source_before_linking() {
        let e = env();
        let src = s(&e.root.join("missing"));
        let call = args(&["init", &src, &s(&e.root.join("dst")), "a"]);
        assert_eq!(
            process(&call, &e.layout),
            Some(Err(format!(
                "init error: open {src}: no such file or directory"
            )))
        );
        assert!(!e.layout.steps_dir().exists());
    }

    #[test]
    fn step_init_steps_dir_failure_is_fatal_line() {
        let e = env();
        fs::write(e.layout.tekton(), "not a dir").unwrap();
        let dir = s(&e.layout.steps_dir());
        let tekton = s(e.layout.tekton());
        assert_eq!(
            process(&args(&["step-init", "a"]), &e.layout),
            Some(Err(format!(
                "Error creating steps directory \"{dir}\": mkdir {tekton}: not a directory"
            )))
        );
        assert_eq!(dispatch(&args(&["step-init"]), &e.layout), Some(1));
    }

    #[test]
    fn step_init_link_failure() {
        let e = env();
        let steps = s(&e.layout.steps_dir());
        let target = s(&e.layout.step_status_dir(0));
        assert_eq!(
            process(&args(&["step-init", "x/y"]), &e.layout),
            Some(Err(format!(
                "step-init error: symlink {target} {steps}/x/y: no such file or directory"
            )))
        );
    }

    #[test]
    fn step_names_are_joined_like_go() {
        let e = env();
        // An empty name joins to the steps dir itself, which exists: tolerated as EEXIST.
        step_init(&args(&["", "./b"]), &e.layout).unwrap();
        assert_eq!(
            fs::read_link(e.layout.steps_dir().join("b")).unwrap(),
            e.layout.step_status_dir(1)
        );
    }
}
