//! Errors shaped like upstream's: a failed step is a "git command" with an argv, an exit
//! status and git-like output, wrapped by context messages (`failed to fetch [main]: …`).
//! Users and the hint table match on git's own texts, so the output mimics git's messages.

use std::fmt;

/// A failed (emulated) git command, upstream's `GitError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitError {
    /// The git argv upstream would have run (without `git`).
    pub args: Vec<String>,
    /// Combined output in git's words, e.g. `fatal: couldn't find remote ref nope\n`.
    pub output: String,
    /// Exit status of the emulated command (128 for `fatal:`).
    pub status: i32,
    /// Whether retrying may help (network trouble, not a bad revision or credentials).
    pub transient: bool,
}

impl GitError {
    pub fn fatal(args: Vec<String>, message: &str) -> Self {
        GitError {
            args,
            output: format!("fatal: {message}\n"),
            status: 128,
            transient: false,
        }
    }

    /// Go's `exec` error text.
    pub fn exit_text(&self) -> String {
        format!("exit status {}", self.status)
    }
}

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let out = self.output.trim();
        if out.is_empty() {
            write!(f, "{}", self.exit_text())
        } else {
            write!(f, "{}: {}", self.exit_text(), out)
        }
    }
}

/// An error with upstream's message chain and, if one caused it, the failed git command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The full `err.Error()` text.
    pub message: String,
    pub git: Option<GitError>,
}

impl Failure {
    pub fn msg(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            git: None,
        }
    }

    /// Prefixes the message like Go's `fmt.Errorf("<context>: %w", err)`.
    pub fn context(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl From<GitError> for Failure {
    fn from(g: GitError) -> Self {
        Failure {
            message: g.to_string(),
            git: Some(g),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Go's `%v` of a `[]string`: `[a b c]`.
pub fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Removes the userinfo (`user:password@`) of every URL in `text`: the one redaction for log
/// lines, error messages and results, so a token given in `-url` (or in a submodule URL, a proxy
/// URL, a redirect target) is never shown. The form is git's `transport_anonymize_url`: the
/// userinfo is dropped, not masked (`https://user:tok@host/x` → `https://host/x`). One exception
/// keeps upstream's log lines for SSH: a bare user name (no `:`) of an `ssh://` URL is no secret
/// and stays (`ssh://git@host/x`); scp-like `user@host:path` likewise, unless the user part holds
/// a `:` (then it is dropped as well).
///
/// A URL's authority ends at the first `/`, `?` or `#` (RFC 3986, as git reads it), and in
/// running text also at a character no URL holds (whitespace, `"`, `<>`); an `@` after that is
/// part of the path or of the text.
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let sep = search + found;
        let start = sep + 3;
        let end = text[start..]
            .find(|c: char| ends_authority(c))
            .map_or(text.len(), |i| start + i);
        search = start;
        let Some(at) = text[start..end].rfind('@') else {
            continue;
        };
        let userinfo = &text[start..start + at];
        let scheme = url_scheme_before(&text[..sep]).to_ascii_lowercase();
        let is_ssh = matches!(scheme.as_str(), "ssh" | "git+ssh" | "ssh+git");
        if is_ssh && !userinfo.contains(':') {
            continue;
        }
        out.push_str(&text[copied..start]);
        copied = start + at + 1;
        search = copied;
    }
    out.push_str(&text[copied..]);
    redact_scp_passwords(&out)
}

/// The scheme just before `://` (the run of RFC 3986 scheme characters that ends `before`).
fn url_scheme_before(before: &str) -> &str {
    let from = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
        .map_or(0, |i| i + 1);
    &before[from..]
}

/// scp-like `user:password@host:path` words: everything up to the `@` is dropped.
fn redact_scp_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(ends_word).unwrap_or(rest.len());
        let word = &rest[..end];
        let scp_password = !word.contains("://")
            && word
                .rfind('@')
                .is_some_and(|at| word[..at].contains(':') && word[at + 1..].contains(':'));
        match word.rfind('@') {
            Some(at) if scp_password => out.push_str(&word[at + 1..]),
            _ => out.push_str(word),
        }
        let sep = rest[end..].chars().next().map_or(0, char::len_utf8);
        out.push_str(&rest[end..end + sep]);
        rest = &rest[end + sep..];
    }
    out
}

/// Characters that end a URL's authority (`host[:port]`, with any userinfo before it).
fn ends_authority(c: char) -> bool {
    matches!(c, '/' | '?' | '#') || ends_word(c)
}

/// Characters around a URL in running text: ones a URL cannot hold. (`'` can be part of a
/// password, so a quote before the userinfo's `@` does not end it.)
fn ends_word(c: char) -> bool {
    matches!(c, '"' | '<' | '>' | '`') || c.is_whitespace()
}

const HINTS: &[(&str, &str)] = &[
    (
        "could not read username",
        "The repository may be private. Configure a \"basic-auth\" or \"ssh-directory\" workspace to provide credentials.",
    ),
    (
        "authentication failed",
        "The provided credentials were rejected. Verify your \"basic-auth\" or \"ssh-directory\" workspace contains valid credentials.",
    ),
    (
        "permission denied (publickey)",
        "The SSH key was rejected. Ensure the \"ssh-directory\" workspace contains a valid private key with access to the repository.",
    ),
    (
        "repository not found",
        "The repository does not exist or you don't have access. Check the URL and ensure credentials are configured via \"basic-auth\" or \"ssh-directory\" workspace if the repository is private.",
    ),
    (
        "could not resolve host",
        "Cannot reach the git server. Check the URL for typos, verify network connectivity, and check \"httpProxy\"/\"httpsProxy\" settings if behind a proxy.",
    ),
    (
        "ssl certificate problem",
        "TLS/SSL verification failed. If using a self-signed certificate, provide it via the \"ssl-ca-directory\" workspace, or set \"sslVerify\" to \"false\" (not recommended).",
    ),
    (
        "server certificate verification failed",
        "TLS/SSL verification failed. If using a self-signed certificate, provide it via the \"ssl-ca-directory\" workspace, or set \"sslVerify\" to \"false\" (not recommended).",
    ),
    (
        "couldn't find remote ref",
        "The revision, branch, or tag was not found on the remote. Verify the name exists on the repository.",
    ),
    (
        "upload-pack: not our ref",
        "The requested commit SHA does not exist on the remote. It may have been force-pushed over or garbage-collected.",
    ),
    (
        "reference is not a tree",
        "The requested commit SHA does not exist on the remote. It may have been force-pushed over or garbage-collected.",
    ),
    (
        "bad object",
        "The requested revision does not exist. It may have been force-pushed over or garbage-collected.",
    ),
    (
        "connection refused",
        "The git server refused the connection. Verify the URL and that the server is reachable from the cluster.",
    ),
    (
        "connection timed out",
        "Connection timed out. Check network/firewall rules and \"httpProxy\"/\"httpsProxy\"/\"noProxy\" settings.",
    ),
    (
        "failed to connect",
        "Cannot connect to the git server. Check network/firewall rules and \"httpProxy\"/\"httpsProxy\"/\"noProxy\" settings.",
    ),
    (
        "the remote end hung up unexpectedly",
        "Transfer was interrupted. Try increasing \"retryMaxAttempts\" or check network stability. For large repositories, consider using a shallow clone with \"depth\".",
    ),
    (
        "rpc failed",
        "Transfer was interrupted. Try increasing \"retryMaxAttempts\" or check network stability. For large repositories, consider using a shallow clone with \"depth\".",
    ),
    (
        "sparse checkout leaves no entry",
        "The sparse checkout pattern matched no files. Verify the \"sparseCheckoutDirectories\" parameter.",
    ),
    (
        "transport 'file' not allowed",
        "The git file:// protocol is blocked. This can happen with submodules pointing to local paths.",
    ),
];

/// What the user-friendly block needs from the flags.
pub struct FriendlyContext<'a> {
    pub url: &'a str,
    pub revision: &'a str,
    pub refspec: &'a str,
    pub depth: u64,
}

/// The boxed help text printed to stderr after a failed fetch (catalog `-userFriendlyErrors`).
pub fn format_user_friendly_error(ctx: &FriendlyContext<'_>, err: &Failure) -> String {
    let mut sb = String::new();
    sb.push_str("\n========================================\n");
    sb.push_str("Git Clone Failed\n");
    sb.push_str("========================================\n\n");
    let output = err
        .git
        .as_ref()
        .map(|g| g.output.trim().to_string())
        .unwrap_or_default();
    let shown = if output.is_empty() {
        &err.message
    } else {
        &output
    };
    sb.push_str(&format!("Error:\n  {}\n\n", redact_url(shown)));
    let full = format!("{output} {}", err.message).to_lowercase();
    if let Some((_, hint)) = HINTS.iter().find(|(p, _)| full.contains(p)) {
        sb.push_str(&format!("Hint:\n  {hint}\n\n"));
    }
    sb.push_str("To reproduce locally, run:\n\n");
    sb.push_str("  git init <dir> && cd <dir>\n");
    sb.push_str(&format!(
        "  git remote add origin {}\n",
        redact_url(ctx.url)
    ));
    let mut fetch = "  git fetch origin".to_string();
    if ctx.depth > 0 {
        fetch.push_str(&format!(" --depth={}", ctx.depth));
    }
    if !ctx.refspec.is_empty() {
        fetch.push(' ');
        fetch.push_str(ctx.refspec);
    } else if !ctx.revision.is_empty() {
        fetch.push(' ');
        fetch.push_str(ctx.revision);
    }
    sb.push_str(&fetch);
    sb.push('\n');
    if !ctx.revision.is_empty() {
        sb.push_str(&format!("  git checkout {}\n", ctx.revision));
    } else {
        sb.push_str("  git checkout FETCH_HEAD\n");
    }
    sb.push_str("\n========================================\n");
    sb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_error_text() {
        let g = GitError {
            args: vec![],
            output: "fatal: could not read Username\n".into(),
            status: 128,
            transient: false,
        };
        assert_eq!(
            g.to_string(),
            "exit status 128: fatal: could not read Username"
        );
        let g = GitError {
            output: "  \n".into(),
            status: 1,
            ..g
        };
        assert_eq!(g.to_string(), "exit status 1");
    }

    #[test]
    fn redaction() {
        for (input, want) in [
            // git's transport_anonymize_url: the userinfo goes, user name included.
            (
                "https://user:pass@github.com/org/repo",
                "https://github.com/org/repo",
            ),
            (
                "http://token@gitlab.com/org/repo",
                "http://gitlab.com/org/repo",
            ),
            ("HTTPS://u:p@h:8443", "HTTPS://h:8443"),
            ("git://u:p@h/r", "git://h/r"),
            ("ftp://u:p@h/r", "ftp://h/r"),
            ("ssh://git:pw@host:22/r", "ssh://host:22/r"),
            ("git+ssh://u:p@h/r", "git+ssh://h/r"),
            // A bare SSH user name is not a secret (upstream's log lines keep it).
            ("ssh://git@github.com/org/r", "ssh://git@github.com/org/r"),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("u:p@host:org/repo.git", "host:org/repo.git"),
            // The last '@' of the authority ends the userinfo; '@' in the path is no userinfo.
            ("https://a@b:c@h/x", "https://h/x"),
            ("https://u:p%40q@h/x", "https://h/x"),
            ("https://h/org/repo@v1", "https://h/org/repo@v1"),
            ("https://h?x=a@b", "https://h?x=a@b"),
            ("https://github.com/org/repo", "https://github.com/org/repo"),
            ("  https://u:s3cret@h/x  ", "  https://h/x  "),
            ("/local/path@x", "/local/path@x"),
            ("", ""),
            // In running text: every URL, quotes and whitespace end it.
            (
                "fatal: Authentication failed for 'https://user:secret@github.com/org/repo'",
                "fatal: Authentication failed for 'https://github.com/org/repo'",
            ),
            (
                "clone of 'http://u:p@h/s.git' into 'x' via http://q:r@proxy:3128 failed",
                "clone of 'http://h/s.git' into 'x' via http://proxy:3128 failed",
            ),
            ("URL(\"https://t@h\")", "URL(\"https://h\")"),
            // RFC 3986 allows `'` (and `!$&()*+,;=`) in a password.
            ("https://u:ab'c$d!@h/x", "https://h/x"),
            ("for 'https://u:a'b@h/x': no", "for 'https://h/x': no"),
            (
                "for 'https://h': terminal prompts disabled",
                "for 'https://h': terminal prompts disabled",
            ),
            ("'u:a'b@h:path'", "h:path'"),
            ("ünï https://ü:ß@hé/ ✓", "ünï https://hé/ ✓"),
            ("a://@b ://x@y", "a://b ://y"),
        ] {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }

    fn ctx<'a>(rev: &'a str, refspec: &'a str, depth: u64) -> FriendlyContext<'a> {
        FriendlyContext {
            url: "https://github.com/org/repo",
            revision: rev,
            refspec,
            depth,
        }
    }

    #[test]
    fn friendly_blocks() {
        let auth = Failure::from(GitError::fatal(
            vec![],
            "could not read Username for 'https://github.com': terminal prompts disabled",
        ))
        .context("failed to fetch [abc123]");
        let s = format_user_friendly_error(&ctx("abc123", "", 1), &auth);
        for want in [
            "Git Clone Failed",
            "could not read Username",
            "basic-auth",
            "ssh-directory",
            "git init <dir>",
            "git remote add origin https://github.com/org/repo",
            "git fetch origin --depth=1 abc123",
            "git checkout abc123",
        ] {
            assert!(s.contains(want), "{want} in {s}");
        }
        let plain = Failure::msg("some unknown error");
        let s = format_user_friendly_error(&ctx("", "", 1), &plain);
        assert!(s.contains("some unknown error") && s.contains("git checkout FETCH_HEAD"));
        assert!(!s.contains("Hint:"));
        let s = format_user_friendly_error(
            &ctx("main", "refs/heads/main:refs/heads/main", 1),
            &Failure::msg("FATAL: COULD NOT READ USERNAME"),
        );
        assert!(s.contains("Hint:") && s.contains("basic-auth"));
        assert!(s.contains("git fetch origin --depth=1 refs/heads/main:refs/heads/main"));
        assert!(s.contains("git checkout main"));
        let s = format_user_friendly_error(&ctx("main", "", 0), &Failure::msg("x"));
        assert!(!s.contains("--depth=") && s.contains("git fetch origin main"));
        let refused = Failure::msg("failed to connect to 127.0.0.1: Connection refused");
        assert!(
            format_user_friendly_error(&ctx("", "", 1), &refused)
                .contains("refused the connection")
        );
    }
}
