//! What libgit2 asks during a connection: credentials (SSH identities and agent, HTTP from the
//! user's credential store, never offered to another host), host keys and certificates, the
//! proxy, and progress for the log.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::time::Instant;

use git2::{
    CertificateCheckStatus, Cred, CredentialType, ErrorClass, ErrorCode, ProxyOptions,
    RemoteCallbacks,
};

use super::Session;
use crate::config::ParsedUrl;
use crate::creds::{self, HostKeyPolicy, HostKeyStatus, SshPlan};
use crate::error::redact_url;
use crate::zap::callers;

pub(super) fn proxy_options<'a>(s: &Session<'_>, url: &str) -> ProxyOptions<'a> {
    let mut p = ProxyOptions::new();
    match s
        .cfg
        .url_values("http", "proxy", url)
        .last()
        .filter(|v| !v.is_empty())
    {
        Some(proxy) => {
            p.url(proxy);
        }
        None => {
            p.auto();
        }
    }
    p
}

fn ssl_verify_enabled(s: &Session<'_>) -> bool {
    let no_verify = std::env::var_os("GIT_SSL_NO_VERIFY").is_some();
    s.ssl_verify && !no_verify
}

/// Credential, certificate and progress callbacks for one connection.
pub(super) fn callbacks<'a>(
    s: &'a Session<'_>,
    url: &str,
    plan: Option<&SshPlan>,
) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    let plan_c = plan.cloned();
    let http_asked = RefCell::new((String::new(), 0u32));
    let ssh_tries = Cell::new(0usize);
    let cfg = &s.cfg;
    cb.credentials(move |req_url, user_from_url, allowed| {
        if allowed.contains(CredentialType::USERNAME) {
            let user = plan_c
                .as_ref()
                .map(|p| p.user.clone())
                .or(user_from_url.map(str::to_string))
                .unwrap_or_else(|| "git".to_string());
            return Cred::username(&user);
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let user = plan_c
                .as_ref()
                .map(|p| p.user.clone())
                .or(user_from_url.map(str::to_string))
                .unwrap_or_else(|| "git".to_string());
            let mut candidates: Vec<Option<PathBuf>> = Vec::new();
            if std::env::var_os("SSH_AUTH_SOCK").is_some_and(|v| !v.is_empty()) {
                candidates.push(None);
            }
            if let Some(p) = &plan_c {
                candidates.extend(p.identities.iter().cloned().map(Some));
            }
            loop {
                let i = ssh_tries.get();
                ssh_tries.set(i + 1);
                match candidates.get(i) {
                    None => {
                        return Err(git2::Error::new(
                            ErrorCode::Auth,
                            ErrorClass::Ssh,
                            "Permission denied (publickey).",
                        ));
                    }
                    Some(None) => return Cred::ssh_key_from_agent(&user),
                    Some(Some(path)) => {
                        if let Ok(c) = Cred::ssh_key(&user, None, path, None) {
                            return Ok(c);
                        }
                    }
                }
            }
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            // The URL that asks (after a redirect: the new location, without the original's
            // userinfo) decides, as git re-reads credentials for a redirected base URL:
            // credentials for one host are never offered to another.
            let asked = creds::asking_url(req_url, user_from_url);
            // Being asked again by the same URL means the last answer was refused.
            let tries = {
                let mut last = http_asked.borrow_mut();
                if last.0 != asked.shown {
                    *last = (asked.shown.clone(), 0);
                }
                last.1 += 1;
                last.1
            };
            // libgit2 presents the URL's own user and password before asking; being asked
            // with a password in the URL means the server refused it.
            if tries > 1 || asked.had_password {
                return Err(git2::Error::new(
                    ErrorCode::Auth,
                    ErrorClass::Http,
                    format!("Authentication failed for '{}'", asked.shown),
                ));
            }
            let found = creds::http_credentials(cfg, &asked.lookup);
            if let (Some(u), Some(p)) = (&found.username, &found.password) {
                return Cred::userpass_plaintext(u, p);
            }
            let origin = ParsedUrl::parse(&asked.shown)
                .map(|u| format!("{}://{}", u.scheme, u.host_port()))
                .unwrap_or_else(|| asked.shown.clone());
            // git names the user here too (`https://user@host`); a user name can be a token,
            // and every message drops userinfo, so it is left out.
            let what = match &found.username {
                Some(_) => {
                    format!("could not read Password for '{origin}': terminal prompts disabled")
                }
                None => {
                    format!("could not read Username for '{origin}': terminal prompts disabled")
                }
            };
            return Err(git2::Error::new(ErrorCode::Auth, ErrorClass::Http, what));
        }
        if allowed.contains(CredentialType::DEFAULT) {
            return Cred::default();
        }
        Err(git2::Error::new(
            ErrorCode::Auth,
            ErrorClass::Net,
            "no supported authentication method",
        ))
    });
    let verify = ssl_verify_enabled(s);
    let plan_h = plan.cloned();
    cb.certificate_check(move |cert, host| {
        if let Some(hk) = cert.as_hostkey() {
            let Some(p) = &plan_h else {
                return Ok(CertificateCheckStatus::CertificatePassthrough);
            };
            if p.policy == HostKeyPolicy::Off {
                return Ok(CertificateCheckStatus::CertificateOk);
            }
            let Some(key) = hk.hostkey() else {
                return Ok(CertificateCheckStatus::CertificatePassthrough);
            };
            let host = if host.is_empty() {
                p.host.as_str()
            } else {
                host
            };
            return match creds::check_known_hosts(&p.known_hosts, host, p.port, key) {
                HostKeyStatus::Match => Ok(CertificateCheckStatus::CertificateOk),
                HostKeyStatus::Unknown if p.policy == HostKeyPolicy::AcceptNew => {
                    Ok(CertificateCheckStatus::CertificateOk)
                }
                _ => Err(git2::Error::new(
                    ErrorCode::Certificate,
                    ErrorClass::Ssh,
                    "Host key verification failed.",
                )),
            };
        }
        if verify {
            Ok(CertificateCheckStatus::CertificatePassthrough)
        } else {
            Ok(CertificateCheckStatus::CertificateOk)
        }
    });
    let log = s.log;
    let every = s.progress_every;
    let started = Instant::now();
    let last = Cell::new(Instant::now());
    let shown_url = redact_url(url);
    cb.transfer_progress(move |p| {
        if every.is_some_and(|every| last.get().elapsed() >= every) {
            last.set(Instant::now());
            log.info(
                callers().progress,
                &format!(
                    "Fetching {shown_url}: {}/{} objects received, {} indexed, {} bytes, {}s elapsed",
                    p.received_objects(),
                    p.total_objects(),
                    p.indexed_objects(),
                    p.received_bytes(),
                    started.elapsed().as_secs()
                ),
            );
        }
        true
    });
    cb
}
