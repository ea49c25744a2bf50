//! `git fetch origin --update-head-ok --force [--depth=N] <specs…>` with libgit2.
//!
//! The revision/refspec is resolved against the refs the server advertises with git's rules
//! (`<n>`, `refs/<n>`, `refs/tags/<n>`, `refs/heads/<n>`, `refs/remotes/<n>`,
//! `refs/remotes/<n>/HEAD`; an empty name is `HEAD`; a full SHA is fetched as an object), so a
//! tag wins over a branch of the same name and a missing name fails with git's
//! `couldn't find remote ref`. Refs, auto-followed tags, remote-tracking refs and `FETCH_HEAD`
//! are then written the way the git CLI writes them. Credentials, host keys, TLS verification,
//! proxies and URL rewriting follow the user's configuration (see [`crate::creds`]).

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, Direction, ErrorClass, ErrorCode,
    FetchOptions, Oid, ProxyOptions, RemoteCallbacks, Repository,
};

use crate::config::{GlobalConfig, ParsedUrl};
use crate::creds::{self, HostKeyPolicy, HostKeyStatus, SshPlan};
use crate::error::{GitError, redact_url};
use crate::flavour::Flavour;
use crate::zap::{Logger, callers};

/// Settings shared by every fetch of one run (superproject and submodules).
pub struct Session<'a> {
    pub log: &'a Logger,
    pub cfg: GlobalConfig,
    pub ssl_verify: bool,
    /// Whose `.ssh` is used.
    pub ssh_home: PathBuf,
    /// Time between progress log lines; `None`: no progress lines.
    pub progress_every: Option<Duration>,
    /// Whose wording failures take (v0.37.2's: git's exact text where known, `git_wording`).
    pub flavour: Flavour,
}

/// One advertised ref.
#[derive(Debug, Clone)]
struct Advertised {
    name: String,
    oid: Oid,
    symref: Option<String>,
}

/// What one element of the fetch arguments resolved to.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The source as advertised (`refs/heads/main`, `HEAD`), or the hex id for object fetches.
    pub source: String,
    pub oid: Oid,
    /// Local ref written for `src:dst` refspecs.
    pub destination: Option<String>,
    /// From a glob refspec (not a merge candidate in FETCH_HEAD).
    pub from_glob: bool,
    /// For `HEAD`: the branch it points to on the remote (`refs/heads/main`).
    pub symref: Option<String>,
    /// Asked for by object id: git updates no remote-tracking ref for it, even when an
    /// advertised ref (then `source`) points at it.
    pub by_id: bool,
}

/// The request.
pub struct FetchRequest<'r> {
    pub repo: &'r Repository,
    /// The URL of `origin` (trimmed `-url`).
    pub url: &'r str,
    /// Elements as upstream passes them (`""` = HEAD, `main`, `+refs/a:refs/b`, a SHA).
    pub specs: Vec<String>,
    pub depth: u64,
    /// The git argv upstream would run (for error messages).
    pub args: Vec<String>,
}

/// Whether `url` uses libgit2's local transport (a path or `file://`).
pub fn is_local_url(url: &str) -> bool {
    if url.starts_with("file://") {
        return true;
    }
    if url.contains("://") {
        return false;
    }
    // scp-like `host:path` has a ':' before any '/'.
    match url.find(':') {
        Some(c) => url[..c].contains('/'),
        None => true,
    }
}

fn is_ssh(url: &str) -> bool {
    !url.contains("://") && !is_local_url(url)
        || url.starts_with("ssh://")
        || url.starts_with("git+ssh://")
        || url.starts_with("ssh+git://")
}

/// Runs the fetch once (the caller retries).
pub fn fetch(s: &Session<'_>, req: &FetchRequest<'_>) -> Result<Vec<Fetched>, GitError> {
    let display_url = redact_url(req.url);
    let effective = s.cfg.rewrite_url(req.url);
    let plan = if is_ssh(&effective) {
        creds::ssh_plan(&effective, &s.ssh_home)
    } else {
        None
    };
    let connect_url = plan
        .as_ref()
        .map(|p| p.url.clone())
        .unwrap_or_else(|| effective.clone());
    let local = is_local_url(&connect_url);
    let fail = |e: git2::Error| {
        let git_text = match s.flavour {
            Flavour::Pipelines037 => git_wording(e.message().trim(), &connect_url),
            Flavour::Catalog => None,
        };
        match git_text {
            Some(text) => GitError {
                args: req.args.clone(),
                output: redact_url(&text),
                status: 128,
                transient: false,
            },
            None => map_error(&e, req, &display_url, plan.as_ref()),
        }
    };

    let mut remote = req.repo.remote_anonymous(&connect_url).map_err(fail)?;
    let mut conn = remote
        .connect_auth(
            Direction::Fetch,
            Some(callbacks(s, &effective, plan.as_ref())),
            Some(proxy_options(s, &effective)),
        )
        .map_err(fail)?;
    let heads: Vec<Advertised> = conn
        .list()
        .map_err(fail)?
        .iter()
        .map(|h| Advertised {
            name: h.name().to_string(),
            oid: h.oid(),
            symref: h.symref_target().map(str::to_string),
        })
        .collect();
    let wants = resolve(&req.specs, &heads).map_err(|name| {
        GitError::fatal(
            req.args.clone(),
            &format!("couldn't find remote ref {name}"),
        )
    })?;
    let with_destination = wants.iter().any(|w| w.destination.is_some());

    // libgit2's local transport cannot fetch shallow; fetch everything and graft afterwards.
    let depth = if local { 0 } else { req.depth };
    let mut refspecs: Vec<String> = Vec::new();
    for w in &wants {
        let spec = format!("+{}", w.source);
        if !refspecs.contains(&spec) {
            refspecs.push(spec);
        }
    }
    let object_wants: Vec<&Fetched> = wants
        .iter()
        .filter(|w| !heads.iter().any(|h| h.name == w.source))
        .collect();
    let fetch_options = |depth: i32| {
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(callbacks(s, &effective, plan.as_ref()))
            .proxy_options(proxy_options(s, &effective))
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        if depth > 0 {
            fo.depth(depth);
        }
        fo
    };
    let depth = depth.min(i32::MAX as u64 - 1) as i32;
    let first = conn
        .remote()
        .download(&refspecs, Some(&mut fetch_options(depth)));
    drop(conn);
    release_free_heap();
    match first {
        Ok(()) => {}
        Err(e)
            if !object_wants.is_empty()
                && e.message().contains("cannot fetch a specific object") =>
        {
            // The server (protocol v0 without allowReachableSHA1InWant) refuses object ids:
            // fetch every branch and tag in full and look for the commit there.
            s.log.info(
                callers().progress,
                &format!(
                    "{display_url} does not allow fetching commits by id; fetching all branches and tags instead"
                ),
            );
            let mut specs: Vec<String> = refspecs
                .iter()
                .filter(|r| !object_wants.iter().any(|w| r[1..] == w.source))
                .cloned()
                .collect();
            // Destinations only shape the request: download() writes no refs.
            specs.push("+refs/heads/*:refs/stepkit-fallback/heads/*".to_string());
            specs.push("+refs/tags/*:refs/stepkit-fallback/tags/*".to_string());
            // A shallow repository must be deepened to see older commits.
            let unshallow = if shallow_file(req.repo).is_empty() {
                0
            } else {
                i32::MAX
            };
            let mut again = req.repo.remote_anonymous(&connect_url).map_err(fail)?;
            again
                .download(&specs, Some(&mut fetch_options(unshallow)))
                .map_err(fail)?;
            if req.depth > 0 {
                let found: Vec<Fetched> = object_wants.iter().map(|w| (*w).clone()).collect();
                graft_local(req.repo, &found, req.depth)
                    .map_err(|e| GitError::fatal(req.args.clone(), e.message()))?;
            }
        }
        Err(e) => return Err(fail(e)),
    }
    for w in &object_wants {
        if req.repo.find_object(w.oid, None).is_err() {
            return Err(GitError::fatal(
                req.args.clone(),
                &format!("remote error: upload-pack: not our ref {}", w.oid),
            ));
        }
    }
    if local && req.depth > 0 {
        graft_local(req.repo, &wants, req.depth)
            .map_err(|e| GitError::fatal(req.args.clone(), e.message()))?;
    }
    update_refs(req.repo, &wants, &heads, with_destination, req.url)
        .map_err(|e| GitError::fatal(req.args.clone(), e.message()))?;
    Ok(wants)
}

/// Gives the heap libgit2's pack indexer freed back to the kernel. It frees its tables in
/// scattered chunks that glibc keeps, and the checkout's written files come on top of them:
/// without this a full clone of ripgrep's history peaks 4.2 MiB (17 %) higher.
fn release_free_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resolves the fetch arguments against the advertised refs. `Err(name)` for a missing ref.
fn resolve(specs: &[String], heads: &[Advertised]) -> Result<Vec<Fetched>, String> {
    let mut out = Vec::new();
    for spec in specs {
        let spec = spec.strip_prefix('+').unwrap_or(spec);
        let (src, dst) = match spec.split_once(':') {
            Some((a, b)) => (a, (!b.is_empty()).then_some(b)),
            None => (spec, None),
        };
        let src = if src.is_empty() { "HEAD" } else { src };
        if src.contains('*') {
            let (prefix, suffix) = src.split_once('*').unwrap_or((src, ""));
            for h in heads {
                if h.name.ends_with("^{}") {
                    continue;
                }
                if let Some(mid) = h
                    .name
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_suffix(suffix))
                {
                    out.push(Fetched {
                        source: h.name.clone(),
                        oid: h.oid,
                        destination: dst.map(|d| d.replacen('*', mid, 1)),
                        from_glob: true,
                        symref: None,
                        by_id: false,
                    });
                }
            }
            continue;
        }
        let found = rev_parse_rules(src)
            .into_iter()
            .find_map(|cand| heads.iter().find(|h| h.name == cand));
        let symref = found.and_then(|h| h.symref.clone());
        let by_id = found.is_none();
        let (source, oid) = match found {
            Some(h) => (h.name.clone(), h.oid),
            None if src.len() == 40 && src.bytes().all(|b| b.is_ascii_hexdigit()) => {
                let oid = Oid::from_str(src).map_err(|_| src.to_string())?;
                // Prefer a ref that points at it (no special server support needed).
                match heads
                    .iter()
                    .find(|h| h.oid == oid && !h.name.ends_with("^{}"))
                {
                    Some(h) => (h.name.clone(), oid),
                    None => (src.to_ascii_lowercase(), oid),
                }
            }
            None => return Err(src.to_string()),
        };
        let destination = dst.map(|d| local_ref_name(d, &source));
        out.push(Fetched {
            source,
            oid,
            destination,
            from_glob: false,
            symref,
            by_id,
        });
    }
    Ok(out)
}

/// git's `ref_rev_parse_rules` candidates for a short name.
pub fn rev_parse_rules(name: &str) -> Vec<String> {
    vec![
        name.to_string(),
        format!("refs/{name}"),
        format!("refs/tags/{name}"),
        format!("refs/heads/{name}"),
        format!("refs/remotes/{name}"),
        format!("refs/remotes/{name}/HEAD"),
    ]
}

/// Where git stores a refspec destination that is not a full ref name.
fn local_ref_name(dst: &str, src: &str) -> String {
    if dst.starts_with("refs/") || dst == "HEAD" {
        return dst.to_string();
    }
    if dst.starts_with("heads/") || dst.starts_with("tags/") || dst.starts_with("remotes/") {
        return format!("refs/{dst}");
    }
    if src.starts_with("refs/tags/") {
        return format!("refs/tags/{dst}");
    }
    format!("refs/heads/{dst}")
}

/// Writes refspec destinations, auto-followed tags, remote-tracking refs and FETCH_HEAD.
fn update_refs(
    repo: &Repository,
    wants: &[Fetched],
    heads: &[Advertised],
    follow_tags: bool,
    url: &str,
) -> Result<(), git2::Error> {
    for w in wants {
        if let Some(dst) = &w.destination {
            repo.reference(dst, w.oid, true, "fetch: storing head")?;
        }
    }
    if follow_tags {
        for h in heads {
            if !h.name.starts_with("refs/tags/") || h.name.ends_with("^{}") {
                continue;
            }
            if repo.find_reference(&h.name).is_ok() {
                continue;
            }
            let Ok(obj) = repo.find_object(h.oid, None) else {
                continue;
            };
            if obj.peel(git2::ObjectType::Any).is_ok() {
                repo.reference(&h.name, h.oid, false, "fetch: auto-follow tag")?;
            }
        }
    }
    // Opportunistic remote-tracking updates from remote.origin.fetch, as `git fetch` does.
    if let Ok(origin) = repo.find_remote("origin") {
        for w in wants.iter().filter(|w| !w.by_id) {
            for i in 0..origin.refspecs().len() {
                let Some(rs) = origin.get_refspec(i) else {
                    continue;
                };
                if rs.direction() != Direction::Fetch || !rs.src_matches(&w.source) {
                    continue;
                }
                if let Ok(dst) = rs.transform(&w.source)
                    && let Some(dst) = dst.as_str()
                {
                    repo.reference(dst, w.oid, true, "fetch: storing head")?;
                }
            }
        }
    }
    write_fetch_head(repo, wants, url)
}

/// FETCH_HEAD in git's format: `<sha>\t[not-for-merge]\t<what> of <url>`.
fn write_fetch_head(repo: &Repository, wants: &[Fetched], url: &str) -> Result<(), git2::Error> {
    let mut shown = redact_userinfo(url);
    while shown.ends_with('/') {
        shown.pop();
    }
    if let Some(s) = shown.strip_suffix(".git")
        && s.len() > 4
    {
        shown = s.to_string();
    }
    let mut text = String::new();
    for w in wants {
        let what = if let Some(b) = w.source.strip_prefix("refs/heads/") {
            format!("branch '{b}' of ")
        } else if let Some(t) = w.source.strip_prefix("refs/tags/") {
            format!("tag '{t}' of ")
        } else if w.source == "HEAD" {
            String::new()
        } else if let Some(r) = w.source.strip_prefix("refs/remotes/") {
            format!("remote-tracking branch '{r}' of ")
        } else {
            format!("'{}' of ", w.source)
        };
        let merge = if w.from_glob { "not-for-merge" } else { "" };
        text.push_str(&format!("{}\t{merge}\t{what}{shown}\n", w.oid));
    }
    std::fs::write(repo.path().join("FETCH_HEAD"), text)
        .map_err(|e| git2::Error::from_str(&format!("cannot write FETCH_HEAD: {e}")))
}

/// The URL as git writes it into FETCH_HEAD (`transport_anonymize_url`): any userinfo dropped,
/// bare SSH user names included, scp-like `user@host:path` too. (Messages use
/// [`crate::error::redact_url`], which keeps bare SSH user names as upstream's logs show them.)
fn redact_userinfo(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    } else if !is_local_url(url)
        && let Some(at) = url.find('@')
        && url[at + 1..].contains(':')
    {
        return url[at + 1..].to_string();
    }
    url.to_string()
}

/// Writes `.git/shallow` for a fetch that was done in full (local transport), so the result
/// has the history depth the git CLI would have produced.
fn graft_local(repo: &Repository, wants: &[Fetched], depth: u64) -> Result<(), git2::Error> {
    let mut boundary: Vec<Oid> = Vec::new();
    for w in wants {
        let Ok(commit) = repo
            .find_object(w.oid, None)
            .and_then(|o| o.peel_to_commit())
        else {
            continue;
        };
        // Like upload-pack's deepen: the commits exactly `depth` generations down are the
        // shallow boundary (root commits included); a shorter history has none.
        let mut level = vec![commit];
        let mut reached = 1;
        while reached < depth {
            let mut next = Vec::new();
            for c in &level {
                for p in c.parents() {
                    if !next.iter().any(|n: &git2::Commit| n.id() == p.id()) {
                        next.push(p);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
            reached += 1;
        }
        if reached == depth {
            for c in level {
                if !boundary.contains(&c.id()) {
                    boundary.push(c.id());
                }
            }
        }
    }
    let path = repo.path().join("shallow");
    let mut lines: Vec<String> = crate::creds::read_config_text(&path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    for b in boundary {
        let s = b.to_string();
        if !lines.contains(&s) {
            lines.push(s);
        }
    }
    lines.sort();
    if lines.is_empty() {
        return Ok(());
    }
    std::fs::write(&path, lines.join("\n") + "\n")
        .map_err(|e| git2::Error::from_str(&format!("cannot write shallow file: {e}")))
}

fn proxy_options<'a>(s: &Session<'_>, url: &str) -> ProxyOptions<'a> {
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
fn callbacks<'a>(s: &'a Session<'_>, url: &str, plan: Option<&SshPlan>) -> RemoteCallbacks<'a> {
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

/// Translates a libgit2 failure into the git CLI's wording (the hint table matches on it).
fn map_error(
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
fn git_wording(msg: &str, url: &str) -> Option<String> {
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

/// `true` when `path` is an existing directory without anything but `.git`.
pub fn shallow_file(repo: &Repository) -> Vec<Oid> {
    crate::creds::read_config_text(&repo.path().join("shallow"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Oid::from_str(l.trim()).ok())
        .collect()
}

/// Is `oid` present in the object database?
pub fn has_object(repo: &Repository, oid: Oid) -> bool {
    repo.odb().map(|o| o.exists(oid)).unwrap_or(false)
}

/// Convenience for callers that only have a path.
pub fn repo_at(path: &Path) -> Result<Repository, git2::Error> {
    Repository::open(path)
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

    #[test]
    fn fetch_head_urls_are_anonymized_like_git() {
        for (url, want) in [
            ("https://u:p@h/org/r.git", "https://h/org/r.git"),
            ("ssh://git@h/org/r", "ssh://h/org/r"),
            ("git@h:org/r.git", "h:org/r.git"),
            ("u:p@h:org/r.git", "h:org/r.git"),
            ("/srv/a@b/r.git", "/srv/a@b/r.git"),
            ("https://h/org/r@v1", "https://h/org/r@v1"),
        ] {
            assert_eq!(redact_userinfo(url), want, "{url}");
        }
    }
}
