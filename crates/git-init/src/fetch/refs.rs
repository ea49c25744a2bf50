//! The fetch arguments resolved against the refs the server advertises, with git's rules, and
//! the refs and `FETCH_HEAD` written afterwards the way the git CLI writes them.

use git2::{Direction, Oid, Repository};

use super::{Fetched, is_local_url};

/// One advertised ref.
#[derive(Debug, Clone)]
pub(super) struct Advertised {
    pub(super) name: String,
    pub(super) oid: Oid,
    pub(super) symref: Option<String>,
}

/// Resolves the fetch arguments against the advertised refs. `Err(name)` for a missing ref.
pub(super) fn resolve(specs: &[String], heads: &[Advertised]) -> Result<Vec<Fetched>, String> {
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
pub(super) fn update_refs(
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

#[cfg(test)]
mod tests {
    use super::*;

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
