//! Black-box tests of the `creds-init` binary on a temporary `/tekton` tree (relocated with
//! `STEPKIT_TEKTON_DIR`), secrets mounted the way the kubelet does (`..data` symlinks).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const CANARIES: [&str; 4] = [
    "CANARYpassw0rd",
    "CANARYprivkey",
    "CANARYdockerauth",
    // base64("bot:CANARYpassw0rd") as it would appear in a docker `auth`.
    "Ym90OkNBTkFSWXBhc3N3MHJk",
];

struct Pod {
    dir: tempfile::TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Pod {
    fn new() -> Self {
        let p = Pod {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(p.creds()).unwrap();
        p
    }
    fn tekton(&self) -> PathBuf {
        self.dir.path().join("tekton")
    }
    fn creds(&self) -> PathBuf {
        self.tekton().join("creds")
    }
    fn secret(&self, name: &str, files: &[(&str, &[u8])]) {
        let root = self.tekton().join("creds-secrets").join(name);
        let ts = root.join("..2026_11_27_00_00_00.000000001");
        fs::create_dir_all(&ts).unwrap();
        for (k, v) in files {
            fs::write(ts.join(k), v).unwrap();
            std::os::unix::fs::symlink(format!("..data/{k}"), root.join(k)).unwrap();
        }
        std::os::unix::fs::symlink("..2026_11_27_00_00_00.000000001", root.join("..data")).unwrap();
    }
    fn run(&self, args: &[&str]) -> Out {
        let home = self.dir.path().join("home");
        let out = Command::new(env!("CARGO_BIN_EXE_creds-init"))
            .args(args)
            .env("STEPKIT_TEKTON_DIR", self.tekton())
            .env("HOME", &home)
            .output()
            .unwrap();
        let out = Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        for canary in CANARIES {
            assert!(
                !out.stdout.contains(canary) && !out.stderr.contains(canary),
                "secret leaked for {args:?}: {}{}",
                out.stdout,
                out.stderr
            );
        }
        out
    }
    /// A basic-auth secret.
    fn basic(&self, name: &str, username: &str, password: &str) {
        self.secret(
            name,
            &[
                ("username", username.as_bytes()),
                ("password", password.as_bytes()),
            ],
        );
    }
    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.creds().join(rel)).unwrap()
    }
}

fn assert_zap_info_done(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let l = lines[0];
    assert!(l.starts_with(r#"{"level":"info","ts":"#), "{l}");
    assert!(
        l.ends_with(r#","caller":"creds-init/main.go:45","msg":"Credentials initialized."}"#),
        "{l}"
    );
}

/// Every file the worked example writes, relative to the creds directory (and to `$HOME`).
const WRITTEN: [&str; 6] = [
    ".docker/config.json",
    ".gitconfig",
    ".git-credentials",
    ".ssh/config",
    ".ssh/id_ssh-key",
    ".ssh/known_hosts",
];

#[test]
fn worked_example_end_to_end() {
    let p = Pod::new();
    p.basic("basic-github", "bot", "s3cr3t");
    p.secret(
        "regcred",
        &[(
            ".dockerconfigjson",
            br#"{"auths":{"quay.io":{"auth":"Zm9vOmJhcg==","email":"x@y"}}}"#,
        )],
    );
    p.secret(
        "ssh-key",
        &[
            ("ssh-privatekey", b"K"),
            ("known_hosts", b"github.com ssh-ed25519 AAAA\n"),
        ],
    );
    let out = p.run(&[
        "-basic-docker=basic-github=https://index.docker.io/v1/",
        "-docker-config=regcred",
        "-basic-git=basic-github=https://github.com",
        "-ssh-git=ssh-key=github.com",
        "-ssh-git=ssh-key=gitlab.example.com:2222/team/project",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_zap_info_done(&out.stderr);
    assert_eq!(
        p.read(".docker/config.json"),
        r#"{"auths":{"https://index.docker.io/v1/":{"username":"bot","password":"s3cr3t","auth":"Ym90OnMzY3IzdA==","email":"not@val.id"},"quay.io":{"auth":"Zm9vOmJhcg==","email":"x@y"}}}"#
    );
    assert_eq!(
        p.read(".gitconfig"),
        "[credential]\n\thelper = store\n[credential \"https://github.com\"]\n\tusername = bot\n\
         [url \"git@gitlab.example.com--team--project:team/project.git\"]\n\tinsteadOf = git@gitlab.example.com:team/project.git\n\
         [url \"ssh://gitlab.example.com--team--project/team/project.git\"]\n\tinsteadOf = ssh://gitlab.example.com:2222/team/project.git\n"
    );
    assert_eq!(
        p.read(".git-credentials"),
        "https://bot:s3cr3t@github.com\n"
    );
    let ssh = p.creds().join(".ssh");
    assert_eq!(
        p.read(".ssh/config"),
        format!(
            "Host github.com\n    HostName github.com\n    Port 22\n    IdentityFile {0}/id_ssh-key\n\
             Host gitlab.example.com--team--project\n    HostName gitlab.example.com\n    Port 2222\n    IdentityFile {0}/id_ssh-key\n",
            ssh.display()
        )
    );
    assert_eq!(p.read(".ssh/id_ssh-key"), "K");
    assert_eq!(
        p.read(".ssh/known_hosts"),
        "github.com ssh-ed25519 AAAA\n\ngithub.com ssh-ed25519 AAAA\n"
    );
    for f in WRITTEN {
        let mode = fs::metadata(p.creds().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // Then copied to $HOME (dirs 0700, files 0600).
    let home = p.dir.path().join("home");
    for f in WRITTEN {
        assert_eq!(
            fs::read(home.join(f)).unwrap(),
            fs::read(p.creds().join(f)).unwrap(),
            "{f}"
        );
        assert_eq!(
            fs::metadata(home.join(f)).unwrap().permissions().mode() & 0o777,
            0o600,
            "{f}"
        );
    }
    assert_eq!(
        fs::metadata(&home).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn no_flags_writes_nothing() {
    let p = Pod::new();
    let out = p.run(&[]);
    assert_eq!(out.code, 0);
    assert_zap_info_done(&out.stderr);
    assert_eq!(fs::read_dir(p.creds()).unwrap().count(), 0);
}

#[test]
fn help_exits_zero_with_go_usage() {
    let p = Pod::new();
    for h in ["-h", "-help", "--help"] {
        let out = p.run(&[h]);
        assert_eq!(out.code, 0);
        assert_eq!(
            out.stderr,
            format!(
                "Usage of {}:\n  -basic-docker value\n    \tList of secret=url pairs.\n  -basic-git value\n    \tList of secret=url pairs.\n  -docker-cfg value\n    \tDocker .dockercfg secret file.\n  -docker-config value\n    \tDocker config.json secret file.\n  -ssh-git value\n    \tList of secret=url pairs.\n",
                env!("CARGO_BIN_EXE_creds-init")
            )
        );
    }
}

fn assert_flag_error(out: &Out, first_line: &str) {
    assert_eq!(out.code, 2, "{}", out.stderr);
    let mut lines = out.stderr.lines();
    assert_eq!(lines.next(), Some(first_line));
    assert!(
        lines.next().unwrap_or("").starts_with("Usage of "),
        "{}",
        out.stderr
    );
}

#[test]
fn flag_errors_exit_2() {
    let p = Pod::new();
    p.basic("foo", "bar", "CANARYpassw0rd");
    let secrets = p.tekton().join("creds-secrets");
    assert_flag_error(
        &p.run(&[
            "-basic-docker=foo=https://us.gcr.io",
            "-basic-docker=foo=https://us.gcr.io",
        ]),
        r#"invalid value "foo=https://us.gcr.io" for flag -basic-docker: multiple entries for url: https://us.gcr.io"#,
    );
    assert_flag_error(
        &p.run(&["-basic-git=bar=baz=blah"]),
        r#"invalid value "bar=baz=blah" for flag -basic-git: expect entries of the form secret=url, got: bar=baz=blah"#,
    );
    assert_flag_error(
        &p.run(&["-ssh-git=bar"]),
        r#"invalid value "bar" for flag -ssh-git: expect entries of the form secret=url, got: bar"#,
    );
    assert_flag_error(
        &p.run(&["-basic-git=missing=https://github.com"]),
        &format!(
            r#"invalid value "missing=https://github.com" for flag -basic-git: open {}/missing/username: no such file or directory"#,
            secrets.display()
        ),
    );
    assert_flag_error(
        &p.run(&["-ssh-git=foo=github.com"]),
        &format!(
            r#"invalid value "foo=github.com" for flag -ssh-git: open {}/foo/ssh-privatekey: no such file or directory"#,
            secrets.display()
        ),
    );
    assert_flag_error(
        &p.run(&["-basic-git=foo=https://github.com:x"]),
        r#"invalid value "foo=https://github.com:x" for flag -basic-git: parse "https://github.com:x": invalid port ":x" after host"#,
    );
    assert_flag_error(&p.run(&["-nope"]), "flag provided but not defined: -nope");
    let out = p.run(&["-basic-git=../foo=https://github.com"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid secret name"), "{}", out.stderr);
    // Nothing was written by any of these.
    assert_eq!(fs::read_dir(p.creds()).unwrap().count(), 0);
}

#[test]
fn docker_failure_is_fatal_before_git() {
    let p = Pod::new();
    p.secret(
        "bad",
        &[(
            ".dockerconfigjson",
            br#"{"auths":{"r":{"auth":"CANARYdockerauth"#,
        )],
    );
    p.basic("g", "u", "CANARYpassw0rd");
    let out = p.run(&["-docker-config=bad", "-basic-git=g=https://github.com"]);
    assert_eq!(out.code, 1);
    let l = out.stderr.trim_end();
    assert!(l.starts_with(r#"{"level":"fatal","ts":"#), "{l}");
    assert!(
        l.contains(r#","caller":"creds-init/main.go:42","msg":"Error initializing credentials: "#),
        "{l}"
    );
    assert!(l.contains("\"stacktrace\":"), "{l}");
    assert!(!p.creds().join(".gitconfig").exists());
}

#[test]
fn secrets_never_leak_in_any_scenario() {
    // Every scenario runs through Pod::run, which greps stdout+stderr for the canaries.
    let p = Pod::new();
    p.secret(
        "all",
        &[
            ("username", b"bot"),
            ("password", b"CANARYpassw0rd"),
            ("ssh-privatekey", b"CANARYprivkey"),
            (
                ".dockerconfigjson",
                br#"{"auths":{"r":{"auth":"CANARYdockerauth","password":5}}}"#,
            ),
            (".dockercfg", b"CANARYdockerauth not json"),
        ],
    );
    p.secret(
        "nonutf8",
        &[("username", b"u"), ("password", b"CANARYpassw0rd\xff")],
    );
    let scenarios: &[&[&str]] = &[
        &[
            "-basic-git=all=https://github.com",
            "-ssh-git=all=github.com",
            "-basic-docker=all=r",
        ],
        &["-docker-config=all"],
        &["-docker-cfg=all"],
        &["-basic-git=nonutf8=https://github.com"],
        &["-basic-docker=nonutf8=r"],
        &["-basic-git=all=https://gith ub.com"],
        &[
            "-basic-git=all=https://github.com",
            "-basic-git=all=https://github.com",
        ],
        &["-ssh-git=all=github.com", "-basic-docker=all"],
    ];
    for args in scenarios {
        let out = p.run(args);
        assert_ne!(out.stderr, "", "{args:?}");
    }
    // The canaries do reach the files, where they belong.
    p.run(&["-basic-git=all=https://github.com"]);
    assert!(p.read(".git-credentials").contains("CANARYpassw0rd"));
}

#[test]
fn secrets_mounted_read_only_and_symlinked_are_read() {
    let p = Pod::new();
    p.basic("s", "u", "p");
    let root: &Path = &p.tekton().join("creds-secrets/s");
    fs::set_permissions(root, fs::Permissions::from_mode(0o555)).unwrap();
    let out = p.run(&["-basic-docker=s=https://r"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(p.read(".docker/config.json").contains("\"auth\":\"dTpw\""));
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
}

/// creds-init with `-basic-git=s=https://github.com` and `$HOME` set to `home` (unset: `None`).
fn basic_git_with_home(p: &Pod, home: Option<&Path>) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_creds-init"));
    c.arg("-basic-git=s=https://github.com")
        .env("STEPKIT_TEKTON_DIR", p.tekton());
    match home {
        Some(h) => c.env("HOME", h),
        None => c.env_remove("HOME"),
    };
    c.output().unwrap()
}

#[test]
fn copy_warnings_are_zap_lines() {
    let p = Pod::new();
    p.basic("s", "u", "CANARYpassw0rd");
    let out = basic_git_with_home(&p, None);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with(r#"{"level":"warn","ts":"#), "{stderr}");
    assert!(
        lines[0].ends_with(r#","caller":"creds-init/main.go:44","msg":"non-fatal error copying credentials: \"error getting the user's home directory: $HOME is not defined\""}"#),
        "{stderr}"
    );
    assert!(!stderr.contains("CANARY"));
    assert_zap_info_done(lines[1]);
}

#[test]
fn home_is_creds_dir_like_old_init_container() {
    let p = Pod::new();
    p.basic("s", "u", "p");
    let out = basic_git_with_home(&p, Some(&p.creds()));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(p.read(".git-credentials"), "https://u:p@github.com\n");
}

#[test]
fn hostile_argv_exits_2_with_go_message() {
    let pod = Pod::new();
    testsupport::argv::assert_flag_errors_exit_2(|| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_creds-init"));
        c.env("STEPKIT_TEKTON_DIR", pod.tekton())
            .env("HOME", pod.dir.path().join("home"));
        c
    });
    let mut c = Command::new(env!("CARGO_BIN_EXE_creds-init"));
    c.env("STEPKIT_TEKTON_DIR", pod.tekton());
    testsupport::argv::assert_flag_error_with_broken_stderr_exits_2(c);
    assert_eq!(
        fs::read_dir(pod.creds()).unwrap().count(),
        0,
        "nothing written"
    );
}

/// Secret files (docker config, git credentials) are read bounded: a symlink to /dev/zero, a
/// sparse 10 GiB file or a FIFO is one line naming the file, never an OOM or a hang.
#[test]
fn hostile_secret_files_are_refused_unread() {
    let p = Pod::new();
    let secrets = p.tekton().join("creds-secrets");
    for dir in ["zero", "fifo", "sparse"] {
        fs::create_dir_all(secrets.join(dir)).unwrap();
    }
    std::os::unix::fs::symlink("/dev/zero", secrets.join("zero/.dockerconfigjson")).unwrap();
    let fifo = secrets.join("fifo/.dockercfg");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    fs::write(secrets.join("sparse/username"), "bot").unwrap();
    fs::File::create(secrets.join("sparse/password"))
        .unwrap()
        .set_len(10 << 30)
        .unwrap();
    for (args, why) in [
        (
            vec!["-docker-config=zero"],
            "zero/.dockerconfigjson: secret file is not a regular file (character device)",
        ),
        (
            vec!["-docker-cfg=fifo"],
            "fifo/.dockercfg: secret file is not a regular file (fifo)",
        ),
        (
            vec!["-basic-git=sparse=https://github.com"],
            "sparse/password: secret file is larger than 1048576 bytes",
        ),
    ] {
        let out = p.run(&args);
        let want = format!("read {}/{why}", secrets.display());
        assert!(out.code == 1 || out.code == 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(&want), "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr
                .trim_end()
                .lines()
                .filter(|l| l.contains(&want))
                .count(),
            1
        );
    }
    assert_eq!(
        fs::read_dir(p.creds()).unwrap().count(),
        0,
        "nothing written"
    );
}
