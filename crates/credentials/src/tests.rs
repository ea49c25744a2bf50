//! Upstream's credential test vectors (`pkg/credentials`: dockercreds, gitcreds, writer;
//! docs/contract.md §4.1–§4.3) plus the hardening cases.

use super::*;
use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A temp `/tekton` with secrets laid out the way the kubelet mounts them:
/// `<secret>/<key> -> ..data/<key>`, `..data -> ..2026_11_27_xx/`.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        let t = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(t.creds()).unwrap();
        t
    }
    fn layout(&self) -> Layout {
        Layout::new(self.dir.path().join("tekton"), self.dir.path().join("ws"))
    }
    fn creds(&self) -> PathBuf {
        self.layout().creds_dir()
    }
    fn secret(&self, name: &str, files: &[(&str, &str)]) {
        let root = self.layout().creds_secrets_dir().join(name);
        let ts = root.join("..2026_11_27_01_02_03.123");
        fs::create_dir_all(&ts).unwrap();
        for (k, v) in files {
            fs::write(ts.join(k), v).unwrap();
            std::os::unix::fs::symlink(format!("..data/{k}"), root.join(k)).unwrap();
        }
        std::os::unix::fs::symlink("..2026_11_27_01_02_03.123", root.join("..data")).unwrap();
    }
    fn creds_obj(&self) -> Credentials {
        Credentials::new(self.layout())
    }
    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.creds().join(rel)).unwrap()
    }
    /// Fresh credentials with `args` parsed (which must succeed).
    fn parsed(&self, args: &[&str]) -> RefCell<Credentials> {
        let c = RefCell::new(self.creds_obj());
        parse(&c, args).unwrap();
        c
    }
    /// The flag error `args` give fresh credentials.
    fn parse_err(&self, args: &[&str]) -> String {
        parse(&RefCell::new(self.creds_obj()), args).unwrap_err()
    }
    /// Parses `args` and writes the git credentials (both must succeed).
    fn write_git(&self, args: &[&str]) {
        self.parsed(args).borrow().write_git().unwrap();
    }
    /// A basic-auth secret.
    fn basic(&self, name: &str, username: &str, password: &str) {
        self.secret(name, &[("username", username), ("password", password)]);
    }
    /// Asserts `.gitconfig` and `.git-credentials`.
    fn assert_git(&self, gitconfig: &str, git_credentials: &str) {
        assert_eq!(self.read(".gitconfig"), gitconfig);
        assert_eq!(self.read(".git-credentials"), git_credentials);
    }
    fn mode(&self, rel: &str) -> u32 {
        fs::metadata(self.creds().join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }
}

fn parse(c: &RefCell<Credentials>, args: &[&str]) -> Result<(), String> {
    let mut fs = goflag::FlagSet::new("entrypoint");
    Credentials::register_flags(c, &mut fs);
    fs.parse(args).map(|_| ()).map_err(|e| e.to_string())
}

// ---- docker ----

#[test]
fn docker_flag_handling() {
    let t = Tree::new();
    t.basic("foo", "bar", "baz");
    let c = t.parsed(&["-basic-docker=foo=https://us.gcr.io"]);
    c.borrow().write_docker().unwrap();
    assert_eq!(
        t.read(".docker/config.json"),
        r#"{"auths":{"https://us.gcr.io":{"username":"bar","password":"baz","auth":"YmFyOmJheg==","email":"not@val.id"}}}"#
    );
    assert_eq!(t.mode(".docker/config.json"), 0o600);
}

#[test]
fn docker_flag_handling_twice() {
    let t = Tree::new();
    t.basic("foo", "asdf", "blah");
    t.basic("bar", "bleh", "belch");
    let c = t.parsed(&[
        "-basic-docker=foo=https://us.gcr.io",
        "-basic-docker=bar=https://eu.gcr.io",
    ]);
    c.borrow().write_docker().unwrap();
    assert_eq!(
        t.read(".docker/config.json"),
        r#"{"auths":{"https://eu.gcr.io":{"username":"bleh","password":"belch","auth":"YmxlaDpiZWxjaA==","email":"not@val.id"},"https://us.gcr.io":{"username":"asdf","password":"blah","auth":"YXNkZjpibGFo","email":"not@val.id"}}}"#
    );
}

#[test]
fn docker_flag_handling_missing_files() {
    let t = Tree::new();
    t.secret("not-found", &[]);
    let mut c = t.creds_obj();
    let err = c
        .set_basic_docker("not-found=https://us.gcr.io")
        .unwrap_err();
    let want = format!(
        "open {}/not-found/username: no such file or directory",
        t.layout().creds_secrets_dir().display()
    );
    assert_eq!(err, want);
}

#[test]
fn docker_flag_handling_url_collision() {
    let t = Tree::new();
    t.basic("foo", "bar", "baz");
    let err = t.parse_err(&[
        "-basic-docker=foo=https://us.gcr.io",
        "-basic-docker=foo=https://us.gcr.io",
    ]);
    assert_eq!(
        err,
        r#"invalid value "foo=https://us.gcr.io" for flag -basic-docker: multiple entries for url: https://us.gcr.io"#
    );
}

#[test]
fn malformed_values() {
    let t = Tree::new();
    for flag in ["basic-docker", "basic-git", "ssh-git"] {
        for v in ["bar=baz=blah", "bar"] {
            let err = t.parse_err(&[&format!("-{flag}={v}")]);
            assert_eq!(
                err,
                format!(
                    "invalid value \"{v}\" for flag -{flag}: expect entries of the form secret=url, got: {v}"
                )
            );
        }
    }
}

#[test]
fn docker_multiple_flag_handling() {
    let t = Tree::new();
    t.basic("foo", "bar", "baz");
    t.secret(
        "bar",
        &[(
            ".dockerconfigjson",
            r#"{"auths":{"https://index.docker.io/v1":{"auth":"fooisbar"}}}"#,
        )],
    );
    t.secret(
        "baz",
        &[(
            ".dockerconfigjson",
            r#"{"auths":{"https://my.registry/v1":{"auth":"fooisbaz"}}}"#,
        )],
    );
    t.secret(
        "blubb",
        &[(".dockercfg", r#"{"us.icr.io":{"auth":"fooisblubb"}}"#)],
    );
    t.secret(
        "bla",
        &[(".dockercfg", r#"{"de.icr.io":{"auth":"fooisbla"}}"#)],
    );
    let c = t.parsed(&[
        "-basic-docker=foo=https://us.gcr.io",
        "-docker-config=bar",
        "-docker-config=baz",
        "-docker-cfg=blubb",
        "-docker-cfg=bla",
    ]);
    c.borrow().write_docker().unwrap();
    assert_eq!(
        t.read(".docker/config.json"),
        r#"{"auths":{"de.icr.io":{"auth":"fooisbla"},"https://index.docker.io/v1":{"auth":"fooisbar"},"https://my.registry/v1":{"auth":"fooisbaz"},"https://us.gcr.io":{"username":"bar","password":"baz","auth":"YmFyOmJheg==","email":"not@val.id"},"us.icr.io":{"auth":"fooisblubb"}}}"#
    );
}

#[test]
fn docker_merge_order_later_wins() {
    let t = Tree::new();
    t.secret("cfg", &[(".dockercfg", r#"{"r":{"auth":"from-cfg"}}"#)]);
    t.secret(
        "cj",
        &[(
            ".dockerconfigjson",
            r#"{"auths":{"r":{"auth":"from-json"},"s":{"auth":"s"}}}"#,
        )],
    );
    t.basic("b", "u", "p");
    // Flag order does not matter: cfg, then config json, then basic.
    let c = t.parsed(&["-basic-docker=b=s", "-docker-config=cj", "-docker-cfg=cfg"]);
    c.borrow().write_docker().unwrap();
    assert_eq!(
        t.read(".docker/config.json"),
        r#"{"auths":{"r":{"auth":"from-json"},"s":{"username":"u","password":"p","auth":"dTpw","email":"not@val.id"}}}"#
    );
}

#[test]
fn docker_no_auth_provided() {
    let t = Tree::new();
    t.creds_obj().write_docker().unwrap();
    assert!(!t.creds().join(".docker").exists());
}

#[test]
fn docker_bad_config_aborts_docker_only() {
    let t = Tree::new();
    t.secret("bad", &[(".dockerconfigjson", "{not json")]);
    t.basic("g", "u", "p");
    let c = t.parsed(&["-docker-config=bad", "-basic-git=g=https://github.com"]);
    assert!(c.borrow().write_docker().is_err());
    c.borrow().write_git().unwrap();
    assert!(!t.creds().join(".docker").exists());
    assert_eq!(t.read(".git-credentials"), "https://u:p@github.com\n");
}

// ---- git basic ----

#[test]
fn basic_flag_handling() {
    let t = Tree::new();
    t.basic("foo", "bar", "baz");
    t.write_git(&["-basic-git=foo=https://github.com"]);
    t.assert_git(
        "[credential]\n\thelper = store\n[credential \"https://github.com\"]\n\tusername = bar\n",
        "https://bar:baz@github.com\n",
    );
    assert_eq!(t.mode(".gitconfig"), 0o600);
    assert_eq!(t.mode(".git-credentials"), 0o600);
}

#[test]
fn basic_flag_handling_twice() {
    let t = Tree::new();
    t.basic("foo", "asdf", "blah");
    t.basic("bar", "bleh", "belch");
    t.write_git(&[
        "-basic-git=foo=https://github.com",
        "-basic-git=bar=https://gitlab.com",
    ]);
    t.assert_git(
        "[credential]\n\thelper = store\n[credential \"https://github.com\"]\n\tusername = asdf\n[credential \"https://gitlab.com\"]\n\tusername = bleh\n",
        "https://asdf:blah@github.com\nhttps://bleh:belch@gitlab.com\n",
    );
}

#[test]
fn basic_multiple_repos_same_host() {
    let t = Tree::new();
    t.basic("s1", "user1", "token1");
    t.basic("s2", "user2", "token2");
    t.write_git(&[
        "-basic-git=s1=https://github.com/org/repo1",
        "-basic-git=s2=https://github.com/org/repo2",
    ]);
    t.assert_git(
        "[credential]\n\thelper = store\n\
         [credential \"https://github.com/org/repo1\"]\n\tusername = user1\n\tuseHttpPath = true\n\
         [credential \"https://github.com/org/repo2\"]\n\tusername = user2\n\tuseHttpPath = true\n",
        "https://user1:token1@github.com/org/repo1\nhttps://user2:token2@github.com/org/repo2\n",
    );
}

#[test]
fn basic_mixed_credentials() {
    let t = Tree::new();
    t.basic("repo", "ru", "rp");
    t.basic("host", "hu", "hp");
    t.write_git(&[
        "-basic-git=repo=https://github.com/org/repo",
        "-basic-git=host=https://github.com/",
    ]);
    t.assert_git(
        "[credential]\n\thelper = store\n\
         [credential \"https://github.com/org/repo\"]\n\tusername = ru\n\tuseHttpPath = true\n\
         [credential \"https://github.com/\"]\n\tusername = hu\n",
        "https://hu:hp@github.com/\nhttps://ru:rp@github.com/org/repo\n",
    );
}

#[test]
fn basic_missing_files_and_collision() {
    let t = Tree::new();
    t.secret("foo", &[("username", "bar")]);
    let mut c = t.creds_obj();
    let err = c.set_basic_git("foo=https://github.com").unwrap_err();
    assert!(
        err.starts_with("open ") && err.ends_with("/foo/password: no such file or directory"),
        "{err}"
    );
    t.basic("ok", "u", "p");
    c.set_basic_git("ok=https://github.com").unwrap();
    assert_eq!(
        c.set_basic_git("ok=https://github.com").unwrap_err(),
        "multiple entries for url: https://github.com"
    );
}

#[test]
fn basic_backslash_in_username() {
    let t = Tree::new();
    t.basic("foo", "foo\\bar\\banana", "baz");
    t.write_git(&["-basic-git=foo=https://github.com"]);
    t.assert_git(
        "[credential]\n\thelper = store\n[credential \"https://github.com\"]\n\tusername = foo\\\\bar\\\\banana\n",
        "https://foo%5Cbar%5Cbanana:baz@github.com\n",
    );
}

#[test]
fn basic_schemeless_and_quoting() {
    let t = Tree::new();
    t.basic("s", "u", "p w!\n");
    t.write_git(&["-basic-git=s=github.com", "-basic-git=s=HTTPS://h/x\"y"]);
    t.assert_git(
        "[credential]\n\thelper = store\n[credential \"github.com\"]\n\tusername = u\n\tuseHttpPath = true\n\
         [credential \"HTTPS://h/x\\\"y\"]\n\tusername = u\n\tuseHttpPath = true\n",
        "//u:p%20w%21%0A@github.com\nhttps://u:p%20w%21%0A@h/x%22y\n",
    );
}

#[test]
fn basic_unparsable_url_is_flag_error() {
    let t = Tree::new();
    t.basic("s", "u", "p");
    let err = t.parse_err(&["-basic-git=s=https://github.com:abc"]);
    assert_eq!(
        err,
        r#"invalid value "s=https://github.com:abc" for flag -basic-git: parse "https://github.com:abc": invalid port ":abc" after host"#
    );
}

// ---- git ssh ----

#[test]
fn ssh_flag_handling() {
    let t = Tree::new();
    t.secret(
        "foo",
        &[("ssh-privatekey", "bar"), ("known_hosts", "ssh-rsa blah")],
    );
    t.write_git(&["-ssh-git=foo=github.com"]);
    let dir = t.creds();
    assert_eq!(
        t.read(".ssh/config"),
        format!(
            "Host github.com\n    HostName github.com\n    Port 22\n    IdentityFile {}/.ssh/id_foo\n",
            dir.display()
        )
    );
    assert_eq!(t.read(".ssh/known_hosts"), "ssh-rsa blah");
    assert_eq!(t.read(".ssh/id_foo"), "bar");
    for f in [".ssh/config", ".ssh/known_hosts", ".ssh/id_foo"] {
        assert_eq!(t.mode(f), 0o600, "{f}");
    }
    assert!(!dir.join(".gitconfig").exists());
}

#[test]
fn ssh_flag_handling_thrice() {
    let t = Tree::new();
    t.secret(
        "foo",
        &[("ssh-privatekey", "a"), ("known_hosts", "ssh-rsa aaaa")],
    );
    t.secret(
        "bar",
        &[("ssh-privatekey", "b"), ("known_hosts", "ssh-rsa bbbb")],
    );
    t.secret(
        "baz",
        &[("ssh-privatekey", "c"), ("known_hosts", "ssh-rsa cccc")],
    );
    t.write_git(&[
        "-ssh-git=foo=github.com",
        "-ssh-git=bar=github.com",
        "-ssh-git=baz=gitlab.example.com:2222",
    ]);
    let d = t.creds().join(".ssh");
    assert_eq!(
        t.read(".ssh/config"),
        format!(
            "Host github.com\n    HostName github.com\n    Port 22\n    IdentityFile {0}/id_foo\n    IdentityFile {0}/id_bar\n\
             Host gitlab.example.com\n    HostName gitlab.example.com\n    Port 2222\n    IdentityFile {0}/id_baz\n",
            d.display()
        )
    );
    assert_eq!(
        t.read(".ssh/known_hosts"),
        "ssh-rsa aaaa\nssh-rsa bbbb\nssh-rsa cccc"
    );
}

#[test]
fn ssh_multiple_repos_same_host() {
    let t = Tree::new();
    t.secret("k1", &[("ssh-privatekey", "1")]);
    t.secret("k2", &[("ssh-privatekey", "2")]);
    t.write_git(&[
        "-ssh-git=k1=github.com/org/repo1",
        "-ssh-git=k2=github.com/org/repo2",
    ]);
    let d = t.creds().join(".ssh");
    assert_eq!(
        t.read(".ssh/config"),
        format!(
            "Host github.com--org--repo1\n    HostName github.com\n    Port 22\n    IdentityFile {0}/id_k1\n\
             Host github.com--org--repo2\n    HostName github.com\n    Port 22\n    IdentityFile {0}/id_k2\n",
            d.display()
        )
    );
    assert_eq!(
        t.read(".gitconfig"),
        "[url \"git@github.com--org--repo1:org/repo1.git\"]\n\tinsteadOf = git@github.com:org/repo1.git\n\
         [url \"ssh://github.com--org--repo1/org/repo1.git\"]\n\tinsteadOf = ssh://github.com/org/repo1.git\n\
         [url \"git@github.com--org--repo2:org/repo2.git\"]\n\tinsteadOf = git@github.com:org/repo2.git\n\
         [url \"ssh://github.com--org--repo2/org/repo2.git\"]\n\tinsteadOf = ssh://github.com/org/repo2.git\n"
    );
    assert!(!t.creds().join(".ssh/known_hosts").exists());
    assert_eq!(t.mode(".gitconfig"), 0o600);
}

#[test]
fn ssh_mixed_credentials() {
    let t = Tree::new();
    t.secret("repo", &[("ssh-privatekey", "r")]);
    t.secret("host", &[("ssh-privatekey", "h")]);
    t.write_git(&[
        "-ssh-git=repo=github.com/org/repo",
        "-ssh-git=host=github.com",
    ]);
    let d = t.creds().join(".ssh");
    assert_eq!(
        t.read(".ssh/config"),
        format!(
            "Host github.com\n    HostName github.com\n    Port 22\n    IdentityFile {0}/id_host\n\
             Host github.com--org--repo\n    HostName github.com\n    Port 22\n    IdentityFile {0}/id_repo\n",
            d.display()
        )
    );
    assert_eq!(
        t.read(".gitconfig"),
        "[url \"git@github.com--org--repo:org/repo.git\"]\n\tinsteadOf = git@github.com:org/repo.git\n\
         [url \"ssh://github.com--org--repo/org/repo.git\"]\n\tinsteadOf = ssh://github.com/org/repo.git\n"
    );
}

#[test]
fn ssh_repo_specific_with_custom_port() {
    let t = Tree::new();
    t.secret("k", &[("ssh-privatekey", "k")]);
    t.write_git(&["-ssh-git=k=gitlab.example.com:2222/team/project"]);
    assert!(t.read(".ssh/config").starts_with(
        "Host gitlab.example.com--team--project\n    HostName gitlab.example.com\n    Port 2222\n"
    ));
    assert_eq!(
        t.read(".gitconfig"),
        "[url \"git@gitlab.example.com--team--project:team/project.git\"]\n\tinsteadOf = git@gitlab.example.com:team/project.git\n\
         [url \"ssh://gitlab.example.com--team--project/team/project.git\"]\n\tinsteadOf = ssh://gitlab.example.com:2222/team/project.git\n"
    );
}

#[test]
fn ssh_missing_files() {
    let t = Tree::new();
    t.secret("foo", &[("known_hosts", "x")]);
    let err = t.parse_err(&["-ssh-git=foo=github.com"]);
    assert!(
        err.ends_with("/foo/ssh-privatekey: no such file or directory"),
        "{err}"
    );
}

#[test]
fn spec_worked_example() {
    // Upstream's worked example with every flag kind at once (docs/contract.md §4.2), written
    // under the real-looking path layout.
    let t = Tree::new();
    t.basic("basic-github", "bot", "s3cr3t");
    t.secret(
        "regcred",
        &[(
            ".dockerconfigjson",
            r#"{"auths":{"quay.io":{"auth":"Zm9vOmJhcg==","email":"x@y"}}}"#,
        )],
    );
    t.secret(
        "ssh-key",
        &[
            ("ssh-privatekey", "K"),
            ("known_hosts", "github.com ssh-ed25519 AAAA\n"),
        ],
    );
    let c = t.parsed(&[
        "-basic-docker=basic-github=https://index.docker.io/v1/",
        "-docker-config=regcred",
        "-basic-git=basic-github=https://github.com",
        "-ssh-git=ssh-key=github.com",
        "-ssh-git=ssh-key=gitlab.example.com:2222/team/project",
    ]);
    c.borrow().write();
    let d = t.creds();
    assert_eq!(
        t.read(".docker/config.json"),
        r#"{"auths":{"https://index.docker.io/v1/":{"username":"bot","password":"s3cr3t","auth":"Ym90OnMzY3IzdA==","email":"not@val.id"},"quay.io":{"auth":"Zm9vOmJhcg==","email":"x@y"}}}"#
    );
    t.assert_git(
        "[credential]\n\thelper = store\n[credential \"https://github.com\"]\n\tusername = bot\n\
         [url \"git@gitlab.example.com--team--project:team/project.git\"]\n\tinsteadOf = git@gitlab.example.com:team/project.git\n\
         [url \"ssh://gitlab.example.com--team--project/team/project.git\"]\n\tinsteadOf = ssh://gitlab.example.com:2222/team/project.git\n",
        "https://bot:s3cr3t@github.com\n",
    );
    assert_eq!(t.read(".ssh/id_ssh-key"), "K");
    assert_eq!(
        t.read(".ssh/config"),
        format!(
            "Host github.com\n    HostName github.com\n    Port 22\n    IdentityFile {0}/.ssh/id_ssh-key\n\
             Host gitlab.example.com--team--project\n    HostName gitlab.example.com\n    Port 2222\n    IdentityFile {0}/.ssh/id_ssh-key\n",
            d.display()
        )
    );
    assert_eq!(
        t.read(".ssh/known_hosts"),
        "github.com ssh-ed25519 AAAA\n\ngithub.com ssh-ed25519 AAAA\n"
    );
    // Directories keep upstream's MkdirAll(0777) mode (minus the umask).
    let umask = current_umask();
    assert_eq!(t.mode(".docker"), 0o777 & !umask);
    assert_eq!(t.mode(".ssh"), 0o777 & !umask);
}

fn current_umask() -> u32 {
    // From /proc (setting and restoring it would race with the other tests' file creation).
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .unwrap_or(0o022)
}

#[test]
fn ssh_twice_appends_gitconfig() {
    let t = Tree::new();
    t.secret("k", &[("ssh-privatekey", "k")]);
    let c = t.parsed(&["-ssh-git=k=h/o/r"]);
    c.borrow().write_git().unwrap();
    c.borrow().write_git().unwrap();
    assert_eq!(
        t.read(".gitconfig")
            .matches("[url \"git@h--o--r:o/r.git\"]")
            .count(),
        2
    );
}

// ---- hardening ----

#[test]
fn bad_secret_names_are_flag_errors() {
    let t = Tree::new();
    for v in [
        "-basic-git=../x=https://h",
        "-basic-docker==https://h",
        "-ssh-git=a/b=h",
        "-docker-config=..",
        "-docker-cfg=",
        "-docker-config=a/../b",
    ] {
        let err = t.parse_err(&[v]);
        assert!(err.contains("invalid secret name"), "{v}: {err}");
    }
}

#[test]
fn planted_symlinks_are_not_followed() {
    let t = Tree::new();
    t.secret(
        "s",
        &[
            ("username", "u"),
            ("password", "p"),
            ("ssh-privatekey", "k"),
        ],
    );
    let victim = t.dir.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    let victim_dir = t.dir.path().join("victim-dir");
    fs::create_dir(&victim_dir).unwrap();
    std::os::unix::fs::symlink(&victim, t.creds().join(".gitconfig")).unwrap();
    std::os::unix::fs::symlink(&victim, t.creds().join(".git-credentials")).unwrap();
    std::os::unix::fs::symlink(&victim_dir, t.creds().join(".ssh")).unwrap();
    std::os::unix::fs::symlink(&victim_dir, t.creds().join(".docker")).unwrap();
    let c = t.parsed(&[
        "-basic-git=s=https://h",
        "-ssh-git=s=h/o/r",
        "-basic-docker=s=r",
    ]);
    c.borrow().write_docker().unwrap();
    c.borrow().write_git().unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(fs::read_dir(&victim_dir).unwrap().count(), 0);
    assert!(t.read(".gitconfig").starts_with("[credential]"));
    assert!(
        fs::symlink_metadata(t.creds().join(".ssh"))
            .unwrap()
            .is_dir()
    );
}

#[test]
fn oversized_and_binary_secrets() {
    let t = Tree::new();
    let big = "x".repeat(2 << 20);
    t.basic("big", "u", &big);
    let err = t.parse_err(&["-basic-git=big=https://h"]);
    assert!(err.contains("larger than 1048576 bytes"), "{err}");
    let root = t.layout().creds_secrets_dir().join("bin");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("ssh-privatekey"), b"\xff\xfe\x00").unwrap();
    let err = t.parse_err(&["-ssh-git=bin=h"]);
    assert!(err.contains("not valid UTF-8"), "{err}");
}

#[test]
fn missing_creds_dir_is_reported_for_basic_git() {
    // Upstream's basic writer does not create /tekton/creds.
    let t = Tree::new();
    t.basic("s", "u", "p");
    fs::remove_dir(t.creds()).unwrap();
    let c = t.parsed(&["-basic-git=s=https://h"]);
    let err = c.borrow().write_git().unwrap_err();
    assert_eq!(
        err,
        format!(
            "open {}: no such file or directory",
            t.creds().join(".gitconfig").display()
        )
    );
}

// ---- copy to home ----

fn copy(t: &Tree, home: Option<&Path>) -> (Vec<(String, String)>, Vec<String>) {
    let mut lines = Vec::new();
    let env = copy_creds_to_home(
        &t.creds(),
        home.map(|h| h.as_os_str()),
        Some(false),
        &mut |l: &str| lines.push(l.to_string()),
    );
    (env, lines)
}

fn full_tree() -> Tree {
    let t = Tree::new();
    t.secret(
        "s",
        &[
            ("username", "u"),
            ("password", "p"),
            ("ssh-privatekey", "k"),
            ("known_hosts", "kh"),
        ],
    );
    let c = t.parsed(&[
        "-basic-git=s=https://h",
        "-ssh-git=s=h",
        "-basic-docker=s=r",
    ]);
    c.borrow().write();
    t
}

#[test]
fn try_copy_cred_dir_and_file() {
    let t = full_tree();
    let home = t.dir.path().join("home/user");
    let (env, lines) = copy(&t, Some(&home));
    assert!(env.is_empty() && lines.is_empty(), "{lines:?}");
    for f in [
        ".docker/config.json",
        ".gitconfig",
        ".git-credentials",
        ".ssh/config",
        ".ssh/id_s",
        ".ssh/known_hosts",
    ] {
        assert_eq!(
            fs::read(home.join(f)).unwrap(),
            fs::read(t.creds().join(f)).unwrap(),
            "{f}"
        );
        assert_eq!(
            fs::metadata(home.join(f)).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    for d in ["", ".docker", ".ssh"] {
        assert_eq!(
            fs::metadata(home.join(d)).unwrap().permissions().mode() & 0o777,
            0o700,
            "{d}"
        );
    }
}

#[test]
fn try_copy_cred_file_missing() {
    let d = tempfile::tempdir().unwrap();
    let dst = d.path().join("dst");
    home::try_copy_cred(&d.path().join("nope"), &dst).unwrap();
    assert!(!dst.exists());
}

#[test]
fn copy_keeps_existing_mode_and_truncates() {
    let t = full_tree();
    let home = t.dir.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::write(home.join(".gitconfig"), "x".repeat(5000)).unwrap();
    fs::set_permissions(home.join(".gitconfig"), fs::Permissions::from_mode(0o644)).unwrap();
    copy(&t, Some(&home));
    assert_eq!(
        fs::read(home.join(".gitconfig")).unwrap(),
        fs::read(t.creds().join(".gitconfig")).unwrap()
    );
    assert_eq!(
        fs::metadata(home.join(".gitconfig"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
}

#[test]
fn copy_replaces_planted_symlinks() {
    let t = full_tree();
    let home = t.dir.path().join("home");
    fs::create_dir(&home).unwrap();
    let victim = t.dir.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, home.join(".git-credentials")).unwrap();
    let vdir = t.dir.path().join("vdir");
    fs::create_dir(&vdir).unwrap();
    std::os::unix::fs::symlink(&vdir, home.join(".ssh")).unwrap();
    let (_, lines) = copy(&t, Some(&home));
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(fs::read_dir(&vdir).unwrap().count(), 0);
    assert_eq!(
        fs::read_to_string(home.join(".git-credentials")).unwrap(),
        "https://u:p@h\n"
    );
}

#[test]
fn home_unset() {
    let t = full_tree();
    let (env, lines) = copy(&t, None);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(
        r#"non-fatal error copying credentials: "error getting the user's home directory: $HOME is not defined""#
    ));
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "DOCKER_CONFIG",
            "GIT_CONFIG_GLOBAL",
            "GIT_CONFIG_COUNT",
            "GIT_CONFIG_KEY_0",
            "GIT_CONFIG_VALUE_0",
            "GIT_CONFIG_KEY_1",
            "GIT_CONFIG_VALUE_1",
            "GIT_SSH_COMMAND"
        ]
    );
    let c = t.creds();
    assert_eq!(env[0].1, c.join(".docker").display().to_string());
    assert_eq!(env[1].1, c.join(".gitconfig").display().to_string());
    assert_eq!(
        env[6].1,
        format!("store --file={}", c.join(".git-credentials").display())
    );
    assert_eq!(
        env[7].1,
        format!(
            "ssh -F {} -o UserKnownHostsFile={}",
            c.join(".ssh/config").display(),
            c.join(".ssh/known_hosts").display()
        )
    );
}

#[test]
fn home_unset_without_creds_still_logs_like_upstream() {
    let t = Tree::new();
    let (env, lines) = copy(&t, None);
    assert!(env.is_empty());
    assert_eq!(
        lines,
        [
            r#"non-fatal error copying credentials: "error getting the user's home directory: $HOME is not defined""#
        ]
    );
}

#[test]
fn no_creds_dir_is_silent() {
    let t = Tree::new();
    fs::remove_dir(t.creds()).unwrap();
    let (env, lines) = copy(&t, None);
    assert!(env.is_empty() && lines.is_empty());
}

#[test]
fn unusable_home_gives_one_warning_and_fallbacks() {
    let t = full_tree();
    let file = t.dir.path().join("afile");
    fs::write(&file, "").unwrap();
    let home = file.join("home");
    let (env, lines) = copy(&t, Some(&home));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0],
        format!(
            "warning: unsuccessful cred copy: \".docker\", \".gitconfig\", \".git-credentials\", \".ssh\" from {:?} to {:?}: mkdir {}: not a directory; the step uses them in place from {:?} (via DOCKER_CONFIG, GIT_CONFIG_GLOBAL, GIT_CONFIG_COUNT, GIT_SSH_COMMAND)",
            t.creds().display().to_string(),
            home.display().to_string(),
            file.display(),
            t.creds().display().to_string(),
        )
    );
    assert_eq!(env.len(), 8);
}

#[test]
fn per_item_failure_keeps_upstream_warning() {
    let t = full_tree();
    let home = t.dir.path().join("home");
    fs::create_dir(&home).unwrap();
    // A directory where a file is expected: the open fails for that item only.
    fs::create_dir(home.join(".gitconfig")).unwrap();
    let (env, lines) = copy(&t, Some(&home));
    assert_eq!(
        lines,
        [format!(
            "warning: unsuccessful cred copy: \".gitconfig\" from {:?} to {:?}: unable to open destination: open {}/.gitconfig: is a directory",
            t.creds().display().to_string(),
            home.display().to_string(),
            home.display()
        )]
    );
    assert_eq!(
        env,
        [(
            "GIT_CONFIG_GLOBAL".to_string(),
            t.creds().join(".gitconfig").display().to_string()
        )]
    );
    assert!(home.join(".ssh/id_s").exists());
}

#[test]
fn user_git_config_count_is_respected() {
    let t = full_tree();
    let mut lines = Vec::new();
    let env = copy_creds_to_home(&t.creds(), None, Some(true), &mut |l: &str| {
        lines.push(l.to_string())
    });
    assert!(
        env.iter()
            .all(|(k, _)| !k.starts_with("GIT_CONFIG_") || k == "GIT_CONFIG_GLOBAL")
    );
}

#[test]
fn home_equal_to_creds_is_left_alone() {
    let t = full_tree();
    let before = fs::read(t.creds().join(".gitconfig")).unwrap();
    let (env, lines) = copy(&t, Some(&t.creds()));
    assert!(env.is_empty() && lines.is_empty());
    assert_eq!(fs::read(t.creds().join(".gitconfig")).unwrap(), before);
}

#[test]
fn no_fallback_requested() {
    let t = full_tree();
    let mut lines = Vec::new();
    let env = copy_creds_to_home(&t.creds(), None, None, &mut |l: &str| {
        lines.push(l.to_string())
    });
    assert!(env.is_empty());
    assert_eq!(
        lines,
        [
            r#"non-fatal error copying credentials: "error getting the user's home directory: $HOME is not defined""#
        ]
    );
}
