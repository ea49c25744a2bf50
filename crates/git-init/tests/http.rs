//! git-init over smart HTTP (`git http-backend` behind a tiny CGI server on 127.0.0.1) with
//! basic authentication: credentials from the store helper, `useHttpPath`, `insteadOf`, and
//! the "could not read Username" failure.

mod common;

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
    assert!(run.stderr.contains("http://****@127.0.0.1"));

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
