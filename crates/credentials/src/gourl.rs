//! Go's `net/url` `Parse` and `URL.String()`, as far as `.git-credentials` needs them.
//!
//! Upstream writes each `-basic-git` URL as `url.Parse(u)` with `User = url.UserPassword(user,
//! pass)` rendered by `String()`. The bytes of `.git-credentials` (escaping of the userinfo,
//! lower-cased scheme, re-escaped host and path, opaque URLs that drop the credentials) and the
//! flag errors for unparsable URLs follow Go's rules, reproduced here.

use goflag::go_quote;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Path,
    UserPassword,
    Host,
    Zone,
    Fragment,
}

/// A parsed URL (the fields of Go's `url.URL` that `String()` uses; userinfo is discarded
/// because the writer always replaces it). git-init's `ParsedUrl` (git's urlmatch) and
/// `AskingUrl` (libgit2's decoded callback URL) follow git's rules, not Go's, hence three.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoUrl {
    pub scheme: String,
    pub opaque: String,
    pub host: Vec<u8>,
    pub path: Vec<u8>,
    raw_path: String,
    has_user: bool,
    omit_host: bool,
    force_query: bool,
    raw_query: String,
    fragment: Vec<u8>,
    raw_fragment: String,
}

fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
            return match mode {
                Mode::Path => c == b'?',
                Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
                Mode::Fragment => false,
                Mode::Host | Mode::Zone => true,
            };
        }
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

fn escape(s: &[u8], mode: Mode) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if should_escape(c, mode) {
            out.extend_from_slice(&[b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        } else {
            out.push(c);
        }
    }
    // Only ASCII bytes are left unescaped, so the output is ASCII.
    String::from_utf8_lossy(&out).into_owned()
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Go's `unescape`; Go strings hold bytes, so the result is bytes.
fn unescape(s: &str, mode: Mode) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len()
                    || !b[i + 1].is_ascii_hexdigit()
                    || !b[i + 2].is_ascii_hexdigit()
                {
                    let end = (i + 3).min(b.len());
                    let bad = String::from_utf8_lossy(&b[i..end]);
                    return Err(format!("invalid URL escape {}", go_quote(&bad)));
                }
                if mode == Mode::Host && unhex(b[i + 1]) < 8 && &b[i..i + 3] != b"%25" {
                    let bad = String::from_utf8_lossy(&b[i..i + 3]);
                    return Err(format!("invalid URL escape {}", go_quote(&bad)));
                }
                if mode == Mode::Zone {
                    let v = unhex(b[i + 1]) << 4 | unhex(b[i + 2]);
                    if &b[i..i + 3] != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        let bad = String::from_utf8_lossy(&b[i..i + 3]);
                        return Err(format!("invalid URL escape {}", go_quote(&bad)));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        go_quote(&(c as char).to_string())
                    ));
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(unhex(b[i + 1]) << 4 | unhex(b[i + 2]));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn get_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".to_string());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn valid_optional_port(port: &str) -> bool {
    port.is_empty() || (port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// Go 1.26 `parseHost`: bracketed hosts must be IPv6 literals; `http`/`https` reject a
/// second colon (the `urlstrictcolons` default for modules at go ≥ 1.26, as upstream's).
fn parse_host(scheme: &str, host: &str) -> Result<Vec<u8>, String> {
    match host.rfind('[') {
        Some(i) if i > 0 => return Err("invalid IP-literal".to_string()),
        Some(_) => {
            let Some(close) = host.rfind(']') else {
                return Err("missing ']' in host".to_string());
            };
            let colon_port = &host[close + 1..];
            if !valid_optional_port(colon_port) {
                return Err(format!("invalid port {} after host", go_quote(colon_port)));
            }
            let port = unescape(colon_port, Mode::Host)?;
            let name = &host[1..close];
            let unescaped = match name.find("%25") {
                Some(zone) => {
                    let mut h = unescape(&name[..zone], Mode::Host)?;
                    h.extend(unescape(&name[zone..], Mode::Zone)?);
                    h
                }
                None => unescape(name, Mode::Host)?,
            };
            let text = String::from_utf8_lossy(&unescaped).into_owned();
            // netip.ParseAddr accepts an IPv6 zone; std's parser does not, so drop it first.
            let addr_part = text.split('%').next().unwrap_or("");
            if addr_part.parse::<std::net::Ipv4Addr>().is_ok() && !text.contains('%') {
                return Err("invalid IP-literal".to_string());
            }
            if addr_part.parse::<std::net::Ipv6Addr>().is_err() || text.ends_with('%') {
                return Err(format!(
                    "invalid host: ParseAddr({}): unable to parse IP",
                    go_quote(&text)
                ));
            }
            let mut out = b"[".to_vec();
            out.extend(unescaped);
            out.push(b']');
            out.extend(port);
            return Ok(out);
        }
        None => {}
    }
    if let Some(first) = host.find(':') {
        let strict = scheme == "http" || scheme == "https";
        let i = if strict {
            first
        } else {
            host.rfind(':').unwrap_or(first)
        };
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

fn valid_userinfo(s: &str) -> bool {
    s.chars().all(|r| {
        r.is_ascii_alphanumeric()
            || matches!(
                r,
                '-' | '.'
                    | '_'
                    | ':'
                    | '~'
                    | '!'
                    | '$'
                    | '&'
                    | '\''
                    | '('
                    | ')'
                    | '*'
                    | '+'
                    | ','
                    | ';'
                    | '='
                    | '%'
                    | '@'
            )
    })
}

fn valid_encoded(s: &str, mode: Mode) -> bool {
    s.bytes().all(|c| {
        matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
                | b'%'
        ) || !should_escape(c, mode)
    })
}

/// Go `url.Parse`; the error text is Go's `parse "<url>": <reason>`.
pub fn parse(raw: &str) -> Result<GoUrl, String> {
    let (u, frag) = match raw.find('#') {
        Some(i) => (&raw[..i], &raw[i + 1..]),
        None => (raw, ""),
    };
    let mut url = parse_no_fragment(u).map_err(|e| format!("parse {}: {e}", go_quote(u)))?;
    if !frag.is_empty() {
        let f =
            unescape(frag, Mode::Fragment).map_err(|e| format!("parse {}: {e}", go_quote(raw)))?;
        url.raw_fragment = if escape(&f, Mode::Fragment) == frag {
            String::new()
        } else {
            frag.to_string()
        };
        url.fragment = f;
    }
    Ok(url)
}

fn parse_no_fragment(raw: &str) -> Result<GoUrl, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_string());
    }
    let mut url = GoUrl::default();
    if raw == "*" {
        url.path = b"*".to_vec();
        return Ok(url);
    }
    let (scheme, mut rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some(i) = rest.find('?') {
        url.raw_query = rest[i + 1..].to_string();
        rest = &rest[..i];
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_string();
            return Ok(url);
        }
        let segment = rest.split('/').next().unwrap_or("");
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".to_string());
        }
    }
    let mut path = rest;
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let mut authority = &rest[2..];
        path = "";
        if let Some(i) = authority.find('/') {
            path = &authority[i..];
            authority = &authority[..i];
        }
        let (host, has_user) = parse_authority(&url.scheme, authority)?;
        url.host = host;
        url.has_user = has_user;
    } else if !url.scheme.is_empty() && rest.starts_with('/') {
        url.omit_host = true;
    }
    url.path = unescape(path, Mode::Path)?;
    url.raw_path = if escape(&url.path, Mode::Path) == path {
        String::new()
    } else {
        path.to_string()
    };
    Ok(url)
}

fn parse_authority(scheme: &str, authority: &str) -> Result<(Vec<u8>, bool), String> {
    let at = authority.rfind('@');
    let host = parse_host(
        scheme,
        match at {
            Some(i) => &authority[i + 1..],
            None => authority,
        },
    )?;
    let Some(i) = at else {
        return Ok((host, false));
    };
    let userinfo = &authority[..i];
    if !valid_userinfo(userinfo) {
        return Err("net/url: invalid userinfo".to_string());
    }
    match userinfo.split_once(':') {
        None => {
            unescape(userinfo, Mode::UserPassword)?;
        }
        Some((user, pass)) => {
            unescape(user, Mode::UserPassword)?;
            unescape(pass, Mode::UserPassword)?;
        }
    }
    Ok((host, true))
}

impl GoUrl {
    fn escaped_path(&self) -> String {
        if !self.raw_path.is_empty()
            && valid_encoded(&self.raw_path, Mode::Path)
            && unescape(&self.raw_path, Mode::Path).ok().as_deref() == Some(self.path.as_slice())
        {
            return self.raw_path.clone();
        }
        if self.path == b"*" {
            return "*".to_string();
        }
        escape(&self.path, Mode::Path)
    }

    fn escaped_fragment(&self) -> String {
        if !self.raw_fragment.is_empty()
            && valid_encoded(&self.raw_fragment, Mode::Fragment)
            && unescape(&self.raw_fragment, Mode::Fragment).ok().as_deref()
                == Some(self.fragment.as_slice())
        {
            return self.raw_fragment.clone();
        }
        escape(&self.fragment, Mode::Fragment)
    }

    /// `String()` of this URL with `User = url.UserPassword(username, password)`.
    pub fn string_with_password(&self, username: &str, password: &str) -> String {
        let mut out = String::new();
        if !self.scheme.is_empty() {
            out.push_str(&self.scheme);
            out.push(':');
        }
        if !self.opaque.is_empty() {
            out.push_str(&self.opaque);
        } else {
            // The user is always set, so the authority is always written.
            out.push_str("//");
            out.push_str(&escape(username.as_bytes(), Mode::UserPassword));
            out.push(':');
            out.push_str(&escape(password.as_bytes(), Mode::UserPassword));
            out.push('@');
            if !self.host.is_empty() {
                out.push_str(&escape(&self.host, Mode::Host));
            }
            let path = self.escaped_path();
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                out.push('/');
            }
            out.push_str(&path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            out.push('?');
            out.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(&self.escaped_fragment());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(u: &str, user: &str, pass: &str) -> String {
        parse(u).unwrap().string_with_password(user, pass)
    }

    #[test]
    fn userinfo_escaping() {
        assert_eq!(
            cred("https://github.com", "bar", "baz"),
            "https://bar:baz@github.com"
        );
        assert_eq!(
            cred("https://github.com", "foo\\bar\\banana", "baz"),
            "https://foo%5Cbar%5Cbanana:baz@github.com"
        );
        assert_eq!(
            cred("https://h", "a@b/c?d:e", "$&+,;=-._~! x\n"),
            "https://a%40b%2Fc%3Fd%3Ae:$&+,;=-._~%21%20x%0A@h"
        );
        assert_eq!(cred("https://h", "é", "p"), "https://%C3%A9:p@h");
    }

    #[test]
    fn shapes() {
        assert_eq!(
            cred("HTTPS://GitHub.com/Org/Repo", "u", "p"),
            "https://u:p@GitHub.com/Org/Repo"
        );
        assert_eq!(cred("github.com", "u", "p"), "//u:p@github.com");
        assert_eq!(parse("github.com").unwrap().path, b"github.com");
        assert_eq!(cred("", "u", "p"), "//u:p@");
        assert_eq!(cred("https:opaque", "u", "p"), "https:opaque");
        assert_eq!(
            cred("https://old:x@h:8443/a%20b?q=1#f", "u", "p"),
            "https://u:p@h:8443/a%20b?q=1#f"
        );
        assert_eq!(cred("https://h/a b", "u", "p"), "https://u:p@h/a%20b");
        assert_eq!(cred("https://h?", "u", "p"), "https://u:p@h?");
        assert_eq!(cred("https://h#", "u", "p"), "https://u:p@h");
        assert_eq!(cred("file:///x", "u", "p"), "file://u:p@/x");
    }

    #[test]
    fn errors_like_go() {
        assert_eq!(
            parse("https://github.com:abc").unwrap_err(),
            r#"parse "https://github.com:abc": invalid port ":abc" after host"#
        );
        assert_eq!(
            parse(":foo").unwrap_err(),
            r#"parse ":foo": missing protocol scheme"#
        );
        assert_eq!(parse("a:b/c").map(|u| u.opaque).unwrap(), "b/c");
        assert_eq!(parse("ab/c:d").map(|u| u.path).unwrap(), b"ab/c:d");
        assert_eq!(
            parse("x_y:z").unwrap_err(),
            r#"parse "x_y:z": first path segment in URL cannot contain colon"#
        );
        assert_eq!(
            parse("https://h/%zz").unwrap_err(),
            r#"parse "https://h/%zz": invalid URL escape "%zz""#
        );
        assert_eq!(
            parse("https://a b").unwrap_err(),
            r#"parse "https://a b": invalid character " " in host name"#
        );
        assert_eq!(
            parse("https://h/\n").unwrap_err(),
            "parse \"https://h/\\n\": net/url: invalid control character in URL"
        );
        assert!(parse("https://[::1").is_err());
        assert!(parse("https://u^x@h").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(parse("https://github.com").unwrap().path, b"");
        assert_eq!(parse("https://github.com/").unwrap().path, b"/");
        assert_eq!(
            parse("https://github.com/org/repo").unwrap().path,
            b"/org/repo"
        );
    }
}
