//! git-init over smart HTTP (`git http-backend` behind a tiny CGI server on 127.0.0.1) with
//! basic authentication: credentials from the store helper, `useHttpPath`, `insteadOf`, and
//! the "could not read Username" failure.

mod common;

use common::front::{Front, Mode};
use common::httpgit::HttpGit;
use common::*;

#[test]
fn basic_auth_from_the_credential_store() {
    if skip_without_daemon() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let home = make_home(root);
    let srv = root.join("srv");
    let head = one_commit_repo(
        &home,
        &srv.join("org/repo.git"),
        "f.txt",
        "secret content\n",
    );
    let server = HttpGit::start(srv.clone(), home.clone());
    let url = format!("http://127.0.0.1:{}/org/repo.git", server.port);
    let term = format!("-terminationMessagePath={}", root.join("t").display());

    // No credentials: git's wording and the matching hint.
    let run = git_init(root, &[&format!("-url={url}"), "-path=out0", &term]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("could not read Username for 'http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("The repository may be private."));

    // Tekton creds-init style files: store helper + per-repo entries with useHttpPath.
    write(
        &home.join(".gitconfig"),
        &format!(
            "[credential]\n\thelper = store\n[credential \"http://127.0.0.1:{p}/org/repo.git\"]\n\tusername = user\n\tuseHttpPath = true\n[url \"http://127.0.0.1:{p}/org/\"]\n\tinsteadOf = https://git.example.com/org/\n",
            p = server.port
        ),
    );
    write(
        &home.join(".git-credentials"),
        &format!(
            "http://wrong:nope@127.0.0.1:{p}/other/repo.git\nhttp://user:secret@127.0.0.1:{p}/org/repo.git\n",
            p = server.port
        ),
    );
    let run = git_init(root, &[&format!("-url={url}"), "-path=out1", &term]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(git(&home, &root.join("out1"), &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(&home, &root.join("out1"), &["status", "--porcelain"]),
        ""
    );

    // URL rewriting via insteadOf; origin keeps the URL as given.
    let run = git_init(
        root,
        &[
            "-url=https://git.example.com/org/repo.git",
            "-path=out2",
            "-depth=0",
            &term,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        git(&home, &root.join("out2"), &["config", "remote.origin.url"]),
        "https://git.example.com/org/repo.git"
    );

    // Credentials in the URL are used and never logged.
    std::fs::remove_file(home.join(".git-credentials")).unwrap();
    let with_creds = format!("http://user:secret@127.0.0.1:{}/org/repo.git", server.port);
    let run = git_init(root, &[&format!("-url={with_creds}"), "-path=out3", &term]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("secret"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "Successfully cloned http://127.0.0.1:{}/org/repo.git @",
            server.port
        )),
        "{}",
        run.stderr
    );

    // Wrong password: rejected once, not retried.
    let bad = format!("http://user:wrong@127.0.0.1:{}/org/repo.git", server.port);
    let run = git_init(
        root,
        &[
            &format!("-url={bad}"),
            "-path=out4",
            "-retryMaxAttempts=3",
            "-retryInitial=10ms",
            &term,
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("The provided credentials were rejected."),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.messages()
            .iter()
            .filter(|m| m.starts_with("Retrying operation"))
            .count(),
        1
    );
    drop(server);
}

/// The token every case below puts in a URL; no output may contain it.
const TOKEN: &str = "s3cret";

/// Everything a run leaves for others to read: stdout, stderr, the termination file and the
/// results directory.
fn outputs(root: &std::path::Path, run: &Run) -> String {
    let mut all = format!("{}\n{}\n", run.stdout, run.stderr);
    all.push_str(&std::fs::read_to_string(root.join("t")).unwrap_or_default());
    if let Ok(dir) = std::fs::read_dir(root.join("tekton/results")) {
        for e in dir.flatten() {
            all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    all
}

/// A run that must fail: what it shows, `-url`, more flags, more environment.
type FailingCase = (
    &'static str,
    String,
    Vec<&'static str>,
    Vec<(&'static str, String)>,
);

/// Credentials in `-url` (and in submodule and proxy URLs) reach no log line, no message and no
/// result, on success and on every kind of failure; the `url` result has no userinfo.
#[test]
fn url_credentials_reach_no_output() {
    if let Err(why) = daemon_available() {
        testsupport::skip(why);
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let home = make_home(root);
    std::fs::create_dir_all(root.join("tekton/results")).unwrap();
    let srv = root.join("srv");
    let head = one_commit_repo(&home, &srv.join("org/repo.git"), "f.txt", "x\n");
    // A superproject whose submodule URL carries credentials of its own and does not exist.
    let sup = srv.join("org/super.git");
    one_commit_repo(&home, &sup, "g.txt", "y\n");
    write(
        &sup.join(".gitmodules"),
        &format!(
            "[submodule \"sub\"]\n\tpath = sub\n\turl = http://subuser:{TOKEN}-sub@127.0.0.1:1/org/nope.git\n"
        ),
    );
    git(&home, &sup, &["add", ".gitmodules"]);
    git(
        &home,
        &sup,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{head},sub"),
        ],
    );
    git(&home, &sup, &["commit", "-q", "-m", "sub"]);
    let server = HttpGit::start_with_auth(srv.clone(), home.clone(), &format!("user:{TOKEN}"));
    let base = format!("127.0.0.1:{}/org", server.port);
    let dead = free_port();
    let term = format!("-terminationMessagePath={}", root.join("t").display());
    let clean = |run: &Run, case: &str| {
        let all = outputs(root, run);
        assert!(!all.contains(TOKEN), "{case}: token in the output:\n{all}");
        // The user names go too (a user name can be the token).
        assert!(
            !all.contains("user@"),
            "{case}: userinfo in the output:\n{all}"
        );
    };
    let fresh = || {
        let _ = std::fs::remove_file(root.join("t"));
        for f in ["commit", "url", "committer-date"] {
            let _ = std::fs::remove_file(root.join("tekton/results").join(f));
        }
    };

    for (scheme_url, userinfo) in [
        (
            format!("http://user:{TOKEN}@{base}/repo.git"),
            format!("user:{TOKEN}@"),
        ),
        (
            format!("http://user:{TOKEN}@{base}/repo.git/"),
            format!("user:{TOKEN}@"),
        ),
        // Percent-encoded: libgit2 decodes it to the token, which must not show either.
        (
            format!("http://user:s3%63ret@{base}/repo.git"),
            "user:s3%63ret@".to_string(),
        ),
    ] {
        fresh();
        let run = git_init(root, &[&format!("-url={scheme_url}"), "-path=ok", &term]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        clean(&run, "success");
        let want = scheme_url.replace(&userinfo, "");
        assert_eq!(
            std::fs::read_to_string(root.join("tekton/results/url")).unwrap(),
            want
        );
        let term_json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("t")).unwrap()).unwrap();
        assert_eq!(term_json[1]["key"], "url");
        assert_eq!(term_json[1]["value"], want.as_str());
        assert!(
            run.messages()
                .iter()
                .any(|m| m.starts_with(&format!("Successfully cloned {want} @ {head}"))),
            "{}",
            run.stderr
        );
        assert_eq!(git(&home, &root.join("ok"), &["rev-parse", "HEAD"]), head);
    }

    let failures: Vec<FailingCase> = vec![
        (
            "404",
            format!("http://user:{TOKEN}@{base}/missing.git"),
            vec![],
            vec![],
        ),
        (
            "wrong password",
            format!("http://user:wrong-{TOKEN}@{base}/repo.git"),
            vec![],
            vec![],
        ),
        (
            "quote in the password",
            format!("http://user:it's-{TOKEN}@{base}/repo.git"),
            vec![],
            vec![],
        ),
        (
            "refused, retried",
            format!("http://user:{TOKEN}@127.0.0.1:{dead}/org/repo.git"),
            vec!["-retryMaxAttempts=3", "-retryInitial=1ms", "-retryMax=2ms"],
            vec![],
        ),
        (
            "refused, fatal line",
            format!("https://user:{TOKEN}@127.0.0.1:{dead}/org/repo.git"),
            vec!["-userFriendlyErrors=false"],
            vec![],
        ),
        (
            "ssh password",
            format!("ssh://user:{TOKEN}@127.0.0.1:{dead}/org/repo.git"),
            vec![],
            vec![],
        ),
        (
            "git:// userinfo",
            format!("git://user:{TOKEN}@127.0.0.1:{dead}/org/repo.git"),
            vec![],
            vec![],
        ),
        (
            "proxy credentials",
            format!("https://{base}/repo.git"),
            vec![],
            vec![(
                "https_proxy",
                format!("http://puser:{TOKEN}@127.0.0.1:{dead}"),
            )],
        ),
        (
            "malformed proxy URL",
            format!("https://{base}/repo.git"),
            vec![],
            vec![("https_proxy", format!("http://puser:{TOKEN}@[bad"))],
        ),
        (
            "submodule URL credentials",
            format!("http://user:{TOKEN}@{base}/super.git"),
            vec!["-retryMaxAttempts=2", "-retryInitial=1ms"],
            vec![],
        ),
    ];
    for (i, (case, url, extra, env)) in failures.iter().enumerate() {
        fresh();
        let path = format!("-path=fail{i}");
        let url_flag = format!("-url={url}");
        let mut args = vec![url_flag.as_str(), path.as_str(), term.as_str()];
        args.extend(extra.iter().copied());
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = git_init_env(root, &args, &env);
        assert_eq!(run.code, 1, "{case}: {}", run.stderr);
        clean(&run, case);
        assert!(!root.join("t").exists(), "{case}: a termination message");
    }
    // The cases did reach what they meant to test.
    fresh();
    let run = git_init(
        root,
        &[
            &format!("-url=http://user:{TOKEN}@127.0.0.1:{dead}/org/repo.git"),
            "-path=again",
            "-retryMaxAttempts=3",
            "-retryInitial=1ms",
            "-retryMax=2ms",
        ],
    );
    let retries = run
        .messages()
        .iter()
        .filter(|m| m.starts_with("Retrying operation"))
        .count();
    assert_eq!(retries, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "unable to access 'http://127.0.0.1:{dead}/org/repo.git/'"
        )),
        "{}",
        run.stderr
    );
    let run = git_init(
        root,
        &[
            &format!("-url=ssh://user:{TOKEN}@127.0.0.1:{dead}/r"),
            "-path=ssh",
        ],
    );
    assert!(
        run.stderr.contains(&format!(
            r#"URL(\"ssh://127.0.0.1:{dead}/r\") appears to need SSH authentication"#
        )),
        "{}",
        run.stderr
    );
    let run = git_init(
        root,
        &[
            &format!("-url=http://user:{TOKEN}@{base}/super.git"),
            "-path=sup",
        ],
    );
    assert!(
        run.stderr
            .contains("fatal: clone of 'http://127.0.0.1:1/org/nope.git' into submodule path"),
        "{}",
        run.stderr
    );
    drop(server);
}

/// A server (127.0.0.1) that takes its own credentials and then redirects the clone to another
/// host (127.0.0.2): whatever the source of the first host's credentials (URL userinfo,
/// `~/.git-credentials`, a store helper configured for that URL only, `useHttpPath`), the
/// second host never receives them; it gets the credentials stored for itself, or none.
#[test]
fn credentials_never_follow_a_redirect_to_another_host() {
    if let Err(why) = daemon_available() {
        testsupport::skip(why);
        return;
    }
    if std::net::TcpListener::bind("127.0.0.2:0").is_err() {
        testsupport::skip("cannot bind 127.0.0.2 (the second host)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let home = make_home(root);
    let srv = root.join("srv");
    let head = one_commit_repo(&home, &srv.join("org/repo.git"), "f.txt", "x\n");
    let backend = HttpGit::start_with_auth(srv.clone(), home.clone(), "bob:pw-of-b");
    let host_b = Front::start("127.0.0.2", Mode::Forward { port: backend.port });
    let host_a = Front::start(
        "127.0.0.1",
        Mode::Redirect {
            to: format!("http://127.0.0.2:{}", host_b.port),
            require: Some("alice:s3cret-of-a".into()),
        },
    );
    let (a, b) = (host_a.port, host_b.port);
    let url_a = format!("http://127.0.0.1:{a}/org/repo.git");
    let term = format!("-terminationMessagePath={}", root.join("t").display());
    let leaked = |case: &str| {
        let at_b = host_b.credentials();
        assert!(
            at_b.iter()
                .all(|c| !c.contains("alice") && !c.contains("s3cret")),
            "{case}: host B received host A's credentials: {at_b:?}"
        );
    };
    let reset = || {
        let _ = std::fs::remove_file(home.join(".gitconfig"));
        let _ = std::fs::remove_file(home.join(".git-credentials"));
    };

    // 1. Userinfo in the URL: used for A, not for B (which has nothing for itself).
    let run = git_init(
        root,
        &[
            &format!("-url=http://alice:s3cret-of-a@127.0.0.1:{a}/org/repo.git"),
            "-path=o1",
            &term,
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    leaked("URL userinfo");
    assert!(
        run.stderr.contains(&format!(
            "could not read Username for 'http://127.0.0.2:{b}'"
        )),
        "{}",
        run.stderr
    );
    assert!(
        host_a
            .credentials()
            .contains(&"alice:s3cret-of-a".to_string())
    );
    assert!(!host_b.seen().is_empty(), "the redirect was not followed");

    // 2. ~/.git-credentials through `credential.helper=store`.
    write(&home.join(".gitconfig"), "[credential]\n\thelper = store\n");
    write(
        &home.join(".git-credentials"),
        &format!("http://alice:s3cret-of-a@127.0.0.1:{a}\n"),
    );
    let run = git_init(root, &[&format!("-url={url_a}"), "-path=o2", &term]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    leaked("~/.git-credentials");

    // 3. A store helper (own file) and a user name configured for A's URL only, useHttpPath.
    reset();
    write(
        &home.join(".gitconfig"),
        &format!(
            "[credential \"http://127.0.0.1:{a}\"]\n\thelper = store --file={}\n\tusername = alice\n\tuseHttpPath = true\n",
            root.join("a-creds").display()
        ),
    );
    write(
        &root.join("a-creds"),
        &format!("http://alice:s3cret-of-a@127.0.0.1:{a}/org/repo.git\n"),
    );
    let run = git_init(root, &[&format!("-url={url_a}"), "-path=o3", &term]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    leaked("helper for A's URL");
    assert!(
        run.stderr.contains(&format!(
            "could not read Username for 'http://127.0.0.2:{b}'"
        )),
        "{}",
        run.stderr
    );

    // 4. Credentials stored for both hosts: each gets its own and the clone succeeds.
    reset();
    write(&home.join(".gitconfig"), "[credential]\n\thelper = store\n");
    write(
        &home.join(".git-credentials"),
        &format!("http://alice:s3cret-of-a@127.0.0.1:{a}\nhttp://bob:pw-of-b@127.0.0.2:{b}\n"),
    );
    let run = git_init(root, &[&format!("-url={url_a}"), "-path=o4", &term]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(git(&home, &root.join("o4"), &["rev-parse", "HEAD"]), head);
    assert!(host_b.credentials().contains(&"bob:pw-of-b".to_string()));
    leaked("both stored");
    // The url result is the URL as given, not where it was redirected to.
    let term_json = std::fs::read_to_string(root.join("t")).unwrap();
    assert!(term_json.contains(&url_a), "{term_json}");
    drop((host_a, host_b, backend));
}
