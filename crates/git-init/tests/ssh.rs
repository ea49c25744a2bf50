//! git-init over SSH against a real OpenSSH server on 127.0.0.1 (libssh2 inside git-init, no
//! `ssh` process): keys from `~/.ssh`, a `~/.ssh/config` host alias with its own
//! `IdentityFile`, new host keys accepted without a `known_hosts` file, and a mismatching
//! `known_hosts` entry refused.
//!
//! Needs root (sshd authenticates the running user, root here) and `sshd`/`ssh-keygen`
//! (Debian: openssh-server, openssh-client); skips with the reason otherwise.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// sshd and the session processes it forks, killed as a group on drop.
struct Sshd {
    _process: testsupport::GroupChild,
    port: u16,
}

fn available() -> Result<(), String> {
    daemon_available()?;
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Err("not root: sshd can only log in the user it runs as".into());
    }
    if !Path::new(SSHD).exists() {
        return Err(format!("{SSHD} is missing (Debian: openssh-server)"));
    }
    let keygen = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if keygen.is_err() {
        return Err("ssh-keygen is missing (Debian: openssh-client)".into());
    }
    Ok(())
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
}

fn start_sshd(dir: &Path, authorized: &Path) -> Sshd {
    let host_key = dir.join("host_key");
    keygen(&host_key);
    let port = free_port();
    let config = dir.join("sshd_config");
    write(
        &config,
        &format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\nPidFile none\n",
            host_key.display(),
            authorized.display()
        ),
    );
    let _ = std::fs::create_dir_all("/run/sshd");
    let process = testsupport::GroupChild::spawn(
        Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("start sshd");
    let sshd = Sshd {
        _process: process,
        port,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    sshd
}

#[test]
fn clone_over_ssh_with_keys_config_and_host_key_checks() {
    if let Err(why) = available() {
        testsupport::skip(why);
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let home = root.join("home");
    let dot_ssh = home.join(".ssh");
    std::fs::create_dir_all(&dot_ssh).unwrap();
    keygen(&dot_ssh.join("id_ed25519"));
    keygen(&dot_ssh.join("deploy_key"));
    let authorized = root.join("authorized_keys");
    let mut keys = std::fs::read_to_string(dot_ssh.join("id_ed25519.pub")).unwrap();
    keys += &std::fs::read_to_string(dot_ssh.join("deploy_key.pub")).unwrap();
    write(&authorized, &keys);

    let repo: PathBuf = root.join("srv/repo.git");
    let head = one_commit_repo(&home, &repo, "f.txt", "over ssh\n");
    let sshd = start_sshd(root, &authorized);
    let term = format!("-terminationMessagePath={}", root.join("t").display());

    // Default key, no known_hosts: the new host key is accepted (accept-new).
    let url = format!("-url=ssh://root@127.0.0.1:{}{}", sshd.port, repo.display());
    let run = git_init(root, &[&url, "-path=a", &term]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(git(&home, &root.join("a"), &["rev-parse", "HEAD"]), head);

    // A host alias from ~/.ssh/config, with its own key, in scp-like syntax; the default key
    // is moved away so only the configured one can log in.
    std::fs::rename(dot_ssh.join("id_ed25519"), root.join("id_ed25519")).unwrap();
    write(
        &dot_ssh.join("config"),
        &format!(
            "Host gitserver\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile ~/.ssh/deploy_key\n",
            sshd.port
        ),
    );
    let alias = format!("-url=gitserver:{}", repo.display());
    let run = git_init(root, &[&alias, "-path=b", &term]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(git(&home, &root.join("b"), &["rev-parse", "HEAD"]), head);

    // A known_hosts entry with another key for this host: refused, not retried.
    let other = root.join("other_host_key");
    keygen(&other);
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let key = other_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    write(
        &dot_ssh.join("known_hosts"),
        &format!("[127.0.0.1]:{} {key}\n", sshd.port),
    );
    let run = git_init(
        root,
        &[
            &alias,
            "-path=c",
            &term,
            "-retryMaxAttempts=3",
            "-retryInitial=10ms",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("Host key verification failed"),
        "{}",
        run.stderr
    );
    assert!(
        !run.messages().iter().any(|m| m.contains("attempt 2")),
        "{}",
        run.stderr
    );
}
