//! git-init over HTTPS: the CA bundle is loaded only when a TLS connection is made (see
//! `src/tls.rs`), so these check that every way of naming the trusted CAs still reaches the
//! handshake: the default bundle (`SSL_CERT_FILE`), `GIT_SSL_CAINFO`, `http.sslCAInfo`, and
//! that an unknown CA fails with the TLS hint unless `-sslVerify=false`, and HTTPS through an
//! HTTP CONNECT proxy.
//!
//! TLS is terminated by a small Python forwarder in front of the `git http-backend` server;
//! the CA and the certificate for 127.0.0.1 come from the `openssl` CLI.

mod common;

use common::httpgit::HttpGit;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// Bytes in both directions between a TLS client and the plain HTTP server.
const FORWARDER: &str = r#"
import socket, ssl, sys, threading
cert, key, backend = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(16)
print(ls.getsockname()[1], flush=True)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(conn):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (OSError, ssl.SSLError):
        conn.close()
        return
    up = socket.create_connection(("127.0.0.1", backend))
    threading.Thread(target=pump, args=(up, tls), daemon=True).start()
    pump(tls, up)
def tunnel(conn):
    f = conn.makefile("rb")
    target = f.readline().split()[1].decode()
    while f.readline() not in (b"\r\n", b"\n", b""):
        pass
    host, port = target.rsplit(":", 1)
    up = socket.create_connection((host, int(port)))
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=pump, args=(up, conn), daemon=True).start()
    pump(conn, up)
# An HTTP CONNECT proxy on a second port, for HTTPS through a proxy.
ps = socket.socket()
ps.bind(("127.0.0.1", 0))
ps.listen(16)
print(ps.getsockname()[1], flush=True)
def proxy_loop():
    while True:
        c, _ = ps.accept()
        threading.Thread(target=tunnel, args=(c,), daemon=True).start()
threading.Thread(target=proxy_loop, daemon=True).start()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// The Python forwarder, killed (with its process group) on drop.
struct Forwarder {
    _process: testsupport::GroupChild,
    port: u16,
    proxy_port: u16,
}

fn tools_available() -> Result<(), String> {
    daemon_available()?;
    for tool in ["python3", "openssl"] {
        let ok = Command::new(tool)
            .arg(if tool == "openssl" {
                "version"
            } else {
                "--version"
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("{tool} is not installed"));
        }
    }
    Ok(())
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a certificate it signed for 127.0.0.1 (`srv.pem`, `srv.key`).
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=stepkit test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    make_server_certificate(dir, "srv", "127.0.0.1", "IP:127.0.0.1");
}

/// `<name>.pem`/`<name>.key`: a certificate signed by the test CA for `common_name` with the
/// subject alternative names `san` (`IP:…`, `DNS:…`).
fn make_server_certificate(dir: &Path, name: &str, common_name: &str, san: &str) {
    let (key, csr, pem, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={common_name}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    write(&dir.join(&ext), &format!("subjectAltName={san}\n"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
}

fn start_forwarder(dir: &Path, backend: u16) -> Forwarder {
    start_forwarder_with(dir, "srv", backend)
}

/// The TLS forwarder presenting `<cert>.pem`.
fn start_forwarder_with(dir: &Path, cert: &str, backend: u16) -> Forwarder {
    let mut process = testsupport::GroupChild::spawn(
        Command::new("python3")
            .args(["-c", FORWARDER])
            .arg(dir.join(format!("{cert}.pem")))
            .arg(dir.join(format!("{cert}.key")))
            .arg(backend.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
    .expect("start python3");
    let mut out = BufReader::new(process.child().stdout.take().unwrap());
    let mut next_port = || {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        line.trim().parse::<u16>().expect("forwarder port")
    };
    let port = next_port();
    let proxy_port = next_port();
    Forwarder {
        _process: process,
        port,
        proxy_port,
    }
}

/// git-init with none of the machine's CA settings, plus `env`.
fn run_tls(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = git_init_command(root, args);
    for k in [
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_SSL_NO_VERIFY",
    ] {
        cmd.env_remove(k);
    }
    // An empty directory: no system CA can vouch for the test CA.
    cmd.env("SSL_CERT_DIR", root.join("no-cas"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

#[test]
fn https_trusts_exactly_the_configured_certificate_authorities() {
    if let Err(why) = tools_available() {
        testsupport::skip(why);
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let home = make_home(root);
    std::fs::create_dir_all(root.join("no-cas")).unwrap();
    make_certificates(root);
    let srv = root.join("srv");
    let head = one_commit_repo(&home, &srv.join("org/repo.git"), "f.txt", "over tls\n");
    let server = HttpGit::start(srv.clone(), home.clone());
    let tls = start_forwarder(root, server.port);
    let url = format!(
        "-url=https://user:secret@127.0.0.1:{}/org/repo.git",
        tls.port
    );
    let term = format!("-terminationMessagePath={}", root.join("t").display());
    let ca = root.join("ca.pem").display().to_string();
    let cloned = |dir: &str| git(&home, &root.join(dir), &["rev-parse", "HEAD"]);

    // The default bundle, named by SSL_CERT_FILE.
    let run = run_tls(root, &[&url, "-path=a", &term], &[("SSL_CERT_FILE", &ca)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(cloned("a"), head);

    // GIT_SSL_CAINFO.
    let run = run_tls(root, &[&url, "-path=b", &term], &[("GIT_SSL_CAINFO", &ca)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(cloned("b"), head);

    // http.sslCAInfo in the user's git configuration.
    write(
        &home.join(".gitconfig"),
        &format!("[http]\n\tsslCAInfo = {ca}\n"),
    );
    let run = run_tls(root, &[&url, "-path=c", &term], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(cloned("c"), head);
    std::fs::remove_file(home.join(".gitconfig")).unwrap();

    // No CA vouches for the server: a TLS failure, with the hint, and no retry loop.
    let run = run_tls(
        root,
        &[&url, "-path=d", &term, "-userFriendlyErrors=true"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("TLS/SSL verification failed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("secret"), "{}", run.stderr);

    // ... unless verification is off.
    let run = run_tls(root, &[&url, "-path=e", &term, "-sslVerify=false"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(cloned("e"), head);

    // Through an HTTP CONNECT proxy: TLS over the tunnel libgit2 opens.
    let proxy = format!("http://127.0.0.1:{}", tls.proxy_port);
    let run = run_tls(
        root,
        &[&url, "-path=f", &term],
        &[("GIT_SSL_CAINFO", &ca), ("https_proxy", &proxy)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(cloned("f"), head);
    // (The proxy really carries it: a dead proxy makes the same clone fail.)
    let dead = format!("http://127.0.0.1:{}", free_port());
    let run = run_tls(
        root,
        &[&url, "-path=g", &term],
        &[("GIT_SSL_CAINFO", &ca), ("https_proxy", &dead)],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
}

/// A certificate from a trusted CA but for another name than the one connected to (an IP
/// address, or a DNS name) is refused with libgit2's "hostname does not match certificate",
/// git's "SSL certificate problem" wording, the TLS hint and exit code 1, without retries;
/// `-sslVerify=false` accepts it.
#[test]
fn https_refuses_a_certificate_for_another_name() {
    if let Err(why) = tools_available() {
        testsupport::skip(why);
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let home = make_home(root);
    std::fs::create_dir_all(root.join("no-cas")).unwrap();
    make_certificates(root);
    make_server_certificate(
        root,
        "other",
        "not-this-host.example",
        "DNS:not-this-host.example",
    );
    let srv = root.join("srv");
    let head = one_commit_repo(&home, &srv.join("org/repo.git"), "f.txt", "names\n");
    let server = HttpGit::start(srv.clone(), home.clone());
    // Presents a certificate for not-this-host.example, reached as 127.0.0.1.
    let wrong_ip = start_forwarder_with(root, "other", server.port);
    // Presents the certificate for IP 127.0.0.1, reached by the name localhost.
    let right_ip = start_forwarder(root, server.port);
    let ca = root.join("ca.pem").display().to_string();
    let term = format!("-terminationMessagePath={}", root.join("t").display());
    for (case, url) in [
        (
            "IP address",
            format!(
                "https://user:secret@127.0.0.1:{}/org/repo.git",
                wrong_ip.port
            ),
        ),
        (
            "DNS name",
            format!(
                "https://user:secret@localhost:{}/org/repo.git",
                right_ip.port
            ),
        ),
    ] {
        let shown = url.replace("user:secret@", "");
        let url_flag = format!("-url={url}");
        let run = run_tls(
            root,
            &[
                &url_flag,
                &format!("-path={}", case.replace(' ', "-")),
                &term,
                "-retryMaxAttempts=3",
                "-retryInitial=1ms",
            ],
            &[("GIT_SSL_CAINFO", &ca)],
        );
        assert_eq!(run.code, 1, "{case}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "fatal: unable to access '{shown}/': SSL certificate problem: hostname does not match certificate"
            )),
            "{case}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("TLS/SSL verification failed"),
            "{case}: {}",
            run.stderr
        );
        let attempts = run
            .messages()
            .iter()
            .filter(|m| m.starts_with("Retrying operation"))
            .count();
        assert_eq!(attempts, 1, "{case}: a certificate failure is not retried");
        assert!(!run.stderr.contains("secret"), "{case}: {}", run.stderr);

        let path = format!("-path={}-unverified", case.replace(' ', "-"));
        let run = run_tls(
            root,
            &[&url_flag, &path, &term, "-sslVerify=false"],
            &[("GIT_SSL_CAINFO", &ca)],
        );
        assert_eq!(run.code, 0, "{case}: {}", run.stderr);
        let dir = root.join(format!("{}-unverified", case.replace(' ', "-")));
        assert_eq!(git(&home, &dir, &["rev-parse", "HEAD"]), head);
    }
    // The same CA and names that do match: trusted (so the failures above are about the name).
    let url = format!(
        "-url=https://user:secret@127.0.0.1:{}/org/repo.git",
        right_ip.port
    );
    let run = run_tls(
        root,
        &[&url, "-path=matching", &term],
        &[("GIT_SSL_CAINFO", &ca)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    drop((wrong_ip, right_ip, server));
}
