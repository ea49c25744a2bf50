//! Non-root steps with an unusable `$HOME` still see their credentials.
//!
//! Runs as root and drops to the `nobody` user for the step side: the test binary re-executes
//! itself (test `step_child`) under that uid to write `/tekton/creds` and call
//! `copy_to_home` like the entrypoint does, then runs `git`, `cat` and `ssh -G` as the same uid
//! with the returned fallback environment. Not root, or a tool missing: `testsupport::skip`
//! (a failure under `STEPKIT_REQUIRE_ALL=1`).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CHILD_ENV: &str = "STEPKIT_CREDS_TEST_CHILD";
const MARK: &str = "@@FALLBACK\t";
const PASSWORD: &str = "CANARY-nonroot-pw";

fn nobody() -> Option<(u32, u32)> {
    let name = CString::new("nobody").ok()?;
    // SAFETY: getpwnam returns NULL or a pointer to a static entry, read immediately.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: non-NULL pointer from getpwnam.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Some((uid, gid))
}

fn as_user(cmd: &mut Command, uid: u32, gid: u32) -> &mut Command {
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// The step side, run as the unprivileged user: parse flags, write, copy to $HOME. Ignored on
/// its own (it asserts nothing); `run_child` runs it with `--ignored`.
#[test]
#[ignore = "the step side of the non-root tests, run by run_child"]
fn step_child() {
    assert!(
        std::env::var_os(CHILD_ENV).is_some(),
        "run by run_child only"
    );
    let layout = stepkit_layout::Layout::from_env();
    let state = std::cell::RefCell::new(credentials::Credentials::new(layout.clone()));
    let mut fs = goflag::FlagSet::new("entrypoint");
    credentials::Credentials::register_flags(&state, &mut fs);
    fs.parse(&[
        "-basic-git=git-creds=https://github.com",
        "-basic-docker=git-creds=https://index.docker.io/v1/",
        "-ssh-git=ssh-creds=github.com",
    ])
    .unwrap();
    drop(fs);
    state.borrow().write();
    for (k, v) in credentials::copy_to_home(&layout) {
        println!("{MARK}{k}\t{v}");
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    tekton: PathBuf,
}

fn setup(uid: u32, gid: u32) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let tekton = dir.path().join("tekton");
    let creds = tekton.join("creds");
    fs::create_dir_all(&creds).unwrap();
    // Like the memory emptyDir the controller mounts at /tekton/creds.
    std::os::unix::fs::chown(&creds, Some(uid), Some(gid)).unwrap();
    let secret = |name: &str, files: &[(&str, &str)]| {
        let root = tekton.join("creds-secrets").join(name);
        let ts = root.join("..2026_11_27_00_00_00.1");
        fs::create_dir_all(&ts).unwrap();
        for (k, v) in files {
            fs::write(ts.join(k), v).unwrap();
            fs::set_permissions(ts.join(k), fs::Permissions::from_mode(0o644)).unwrap();
            std::os::unix::fs::symlink(format!("..data/{k}"), root.join(k)).unwrap();
        }
        std::os::unix::fs::symlink("..2026_11_27_00_00_00.1", root.join("..data")).unwrap();
    };
    secret("git-creds", &[("username", "bot"), ("password", PASSWORD)]);
    secret(
        "ssh-creds",
        &[
            ("ssh-privatekey", "KEY"),
            ("known_hosts", "github.com ssh-ed25519 AAAA"),
        ],
    );
    // Readable by the step's user whatever the umask (secret volumes are 0755/0644).
    let mut stack = vec![tekton.clone()];
    while let Some(d) = stack.pop() {
        if d != creds {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for e in fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    Setup { _dir: dir, tekton }
}

fn run_child(
    s: &Setup,
    home: &Path,
    uid: u32,
    gid: u32,
) -> Option<(BTreeMap<String, String>, String)> {
    // A copy the unprivileged user can execute, whatever the umask of the build.
    let exe = s._dir.path().join("step-child");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "step_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, "1")
    .env("STEPKIT_TEKTON_DIR", &s.tekton)
    .env("HOME", home)
    .env_remove("GIT_CONFIG_COUNT");
    // Another test thread forking while the copy was open for writing keeps a write handle
    // alive in its child for a moment: exec then fails with ETXTBSY, so try again.
    as_user(&mut cmd, uid, gid);
    let mut attempts = 0;
    let started = loop {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(26) && attempts < 100 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other,
        }
    };
    let out = match started {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            testsupport::skip(format!(
                "cannot execute the test binary from the temp dir as uid {uid}: {e}"
            ));
            return None;
        }
        Err(e) => panic!("cannot start the step child: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    assert!(
        !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
        "leak: {stderr}"
    );
    let env = stdout
        .lines()
        .filter_map(|l| l.find(MARK).map(|i| &l[i + MARK.len()..]))
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Some((env, stderr))
}

fn tool(
    home: &Path,
    env: &BTreeMap<String, String>,
    uid: u32,
    gid: u32,
    args: &[&str],
    stdin: &str,
) -> (bool, String, String) {
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(env)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = as_user(&mut cmd, uid, gid).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_fallbacks(home: &Path, expect_cause: &str) {
    if !testsupport::need_root("drop privileges to an unprivileged uid") {
        return;
    }
    let Some((uid, gid)) = nobody() else {
        testsupport::skip("no `nobody` user in the passwd database");
        return;
    };
    let s = setup(uid, gid);
    let home = s._dir.path().join(home);
    if home.parent() == Some(s._dir.path()) {
        // An existing, root-owned, read-only home.
        fs::create_dir_all(&home).unwrap();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o555)).unwrap();
    } else if let Some(parent) = home.parent() {
        fs::create_dir_all(parent).unwrap();
        fs::set_permissions(parent, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let Some((env, stderr)) = run_child(&s, &home, uid, gid) else {
        return;
    };
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("cred copy")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains(expect_cause), "{stderr}");
    assert!(
        warnings[0].contains("DOCKER_CONFIG, GIT_CONFIG_GLOBAL, GIT_CONFIG_COUNT, GIT_SSH_COMMAND"),
        "{stderr}"
    );
    let creds = s.tekton.join("creds");
    assert_eq!(
        env["DOCKER_CONFIG"],
        creds.join(".docker").display().to_string()
    );
    assert_eq!(
        env["GIT_CONFIG_GLOBAL"],
        creds.join(".gitconfig").display().to_string()
    );

    let (ok, out, err) = tool(
        &home,
        &env,
        uid,
        gid,
        &["sh", "-c", "cat \"$DOCKER_CONFIG/config.json\""],
        "",
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("\"https://index.docker.io/v1/\":{\"username\":\"bot\""),
        "{out}"
    );

    if testsupport::need_tool("git").is_some() {
        let (ok, out, err) = tool(
            &home,
            &env,
            uid,
            gid,
            &["git", "config", "--global", "--get", "credential.helper"],
            "",
        );
        assert!(ok, "{err}");
        assert_eq!(out, "store\n");
        let (ok, out, err) = tool(
            &home,
            &env,
            uid,
            gid,
            &["git", "credential", "fill"],
            "protocol=https\nhost=github.com\n\n",
        );
        assert!(ok, "git credential fill failed: {err}");
        assert!(out.contains("username=bot\n"), "{out}");
        assert!(out.contains(&format!("password={PASSWORD}\n")), "{out}");
    }

    if testsupport::need_tool("ssh").is_some() {
        let (ok, out, err) = tool(
            &home,
            &env,
            uid,
            gid,
            &["sh", "-c", "$GIT_SSH_COMMAND -G github.com"],
            "",
        );
        assert!(ok, "{err}");
        let id = creds.join(".ssh/id_ssh-creds").display().to_string();
        let kh = creds.join(".ssh/known_hosts").display().to_string();
        assert!(
            out.lines().any(|l| l == format!("identityfile {id}")),
            "{out}"
        );
        assert!(
            out.lines()
                .any(|l| l.starts_with("userknownhostsfile ") && l.contains(&kh)),
            "{out}"
        );
    }
}

#[test]
fn unwritable_home_uses_creds_in_place() {
    check_fallbacks(Path::new("home"), "$HOME is not writable: access ");
}

#[test]
fn uncreatable_home_uses_creds_in_place() {
    check_fallbacks(Path::new("ro/missing-home"), "mkdir ");
}
