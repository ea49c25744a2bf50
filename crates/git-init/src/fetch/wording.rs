//! libgit2's failures in the git CLI's words: users, and the catalog's hint table, match on
//! git's texts.

use git2::{ErrorClass, ErrorCode};

use super::FetchRequest;
use crate::config::ParsedUrl;
use crate::creds::SshPlan;
use crate::error::{GitError, redact_url};

/// Translates a libgit2 failure into the git CLI's wording (the hint table matches on it).
pub(super) fn map_error(
    e: &git2::Error,
    req: &FetchRequest<'_>,
    shown_url: &str,
    plan: Option<&SshPlan>,
) -> GitError {
    let msg = e.message().trim().to_string();
    let lower = msg.to_lowercase();
    let access = |what: &str| format!("unable to access '{shown_url}/': {what}");
    let transient = matches!(
        e.class(),
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Http | ErrorClass::Ssh
    ) && !matches!(e.code(), ErrorCode::Auth | ErrorCode::Certificate)
        && !lower.contains("status code: 4");
    let text = if e.code() == ErrorCode::Auth && plan.is_some() {
        let p = plan
            .map(|p| format!("{}@{}", p.user, p.host))
            .unwrap_or_default();
        format!(
            "{p}: Permission denied (publickey).\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists."
        )
    } else if e.code() == ErrorCode::Auth {
        format!("fatal: {msg}")
    } else if e.code() == ErrorCode::Certificate && plan.is_some() {
        "Host key verification failed.\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.".to_string()
    } else if e.code() == ErrorCode::Certificate || e.class() == ErrorClass::Ssl {
        format!(
            "fatal: {}",
            access(&format!("SSL certificate problem: {msg}"))
        )
    } else if let Some(host) = lower
        .find("failed to resolve address for ")
        .map(|i| msg[i + 30..].split(':').next().unwrap_or("").to_string())
    {
        format!(
            "fatal: {}",
            access(&format!("Could not resolve host: {host}"))
        )
    } else if lower.contains("connection refused") {
        format!("fatal: {}", access(&format!("Failed to connect: {msg}")))
    } else if lower.contains("timed out") {
        format!("fatal: {}", access(&format!("Connection timed out: {msg}")))
    } else if lower.contains("status code: 404") {
        format!("fatal: repository '{shown_url}/' not found")
    } else if lower.contains("could not find repository") || lower.contains("not exported") {
        format!("fatal: remote error: {msg}\nfatal: repository not found")
    } else if lower.contains("early eof") || lower.contains("unexpected eof") {
        format!("fatal: the remote end hung up unexpectedly ({msg})")
    } else {
        format!("fatal: {msg}")
    };
    GitError {
        args: req.args.clone(),
        output: format!("{}\n", redact_url(&text)),
        status: 128,
        transient,
    }
}

/// The git CLI's own output for the failures v0.37.2's log shows verbatim (it has no hint
/// table to feed): a `git daemon` refusal (`fatal: remote error: <its text>`), and a `git://`
/// server that cannot be reached, where git names every address it tried (resolved here in
/// the same `getaddrinfo` order libgit2 used; each is reported with the one error libgit2
/// saw). `None`: keep the common mapping.
pub(super) fn git_wording(msg: &str, url: &str) -> Option<String> {
    if let Some(rest) = msg.strip_prefix("remote error: ") {
        return Some(format!("fatal: remote error: {rest}\n"));
    }
    let u = ParsedUrl::parse(url).filter(|u| u.scheme == "git")?;
    let host = u
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = u.port.unwrap_or(9418);
    let lower = msg.to_lowercase();
    if lower.starts_with("failed to resolve address") {
        let why = msg.rsplit(": ").next().unwrap_or(msg);
        return Some(format!(
            "fatal: unable to look up {host} (port {port}) ({why})\n"
        ));
    }
    let errno = [
        "Connection refused",
        "Connection timed out",
        "No route to host",
        "Network is unreachable",
    ]
    .into_iter()
    .find(|t| lower.ends_with(&t.to_lowercase()))?;
    use std::net::ToSocketAddrs;
    let addrs: Vec<std::net::SocketAddr> = (host.as_str(), port).to_socket_addrs().ok()?.collect();
    let mut text = format!("fatal: unable to connect to {host}:\n");
    for (i, a) in addrs.iter().enumerate() {
        text.push_str(&format!("{host}[{i}: {}]: errno={errno}\n", a.ip()));
    }
    text.push('\n');
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_wording_for_v037() {
        assert_eq!(
            git_wording(
                "remote error: access denied or repository not exported: /x",
                "https://h/x"
            )
            .as_deref(),
            Some("fatal: remote error: access denied or repository not exported: /x\n")
        );
        assert_eq!(
            git_wording(
                "failed to resolve address for nope.invalid: Name or service not known",
                "git://nope.invalid/x"
            )
            .as_deref(),
            Some("fatal: unable to look up nope.invalid (port 9418) (Name or service not known)\n")
        );
        assert_eq!(
            git_wording(
                "failed to connect to 127.0.0.1: Connection refused",
                "git://127.0.0.1:1/x"
            )
            .as_deref(),
            Some(
                "fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused\n\n"
            )
        );
        // Other transports keep the common mapping.
        assert_eq!(
            git_wording(
                "failed to connect to 127.0.0.1: Connection refused",
                "http://127.0.0.1:1/x"
            ),
            None
        );
        assert_eq!(git_wording("unexpected eof", "git://127.0.0.1/x"), None);
    }
}
