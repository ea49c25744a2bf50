//! git's non-cone sparse-checkout patterns (gitignore syntax), which libgit2 lacks.
//!
//! A path is in the checkout when the deepest of {the path itself, its parent directories}
//! that some pattern decides is decided positively; within one level the last matching
//! pattern wins (`!` negates). Patterns without `/` match a basename at any depth, patterns
//! with `/` are anchored at the root, a trailing `/` only matches directories.

/// One parsed pattern line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Vec<u8>,
    negative: bool,
    must_be_dir: bool,
    no_dir: bool,
}

/// A sparse-checkout file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    list: Vec<Pattern>,
}

impl Patterns {
    /// Parses the content of `.git/info/sparse-checkout`.
    pub fn parse(text: &str) -> Patterns {
        let mut list = Vec::new();
        for raw in text.split('\n') {
            let line = trim_trailing_spaces(raw.trim_end_matches('\r'));
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut p = line.as_str();
            let mut negative = false;
            if let Some(rest) = p.strip_prefix('!') {
                negative = true;
                p = rest;
            }
            let mut must_be_dir = false;
            if let Some(rest) = p.strip_suffix('/') {
                must_be_dir = true;
                p = rest;
            }
            if p.is_empty() {
                continue;
            }
            let no_dir = !p.contains('/');
            let text = if no_dir {
                p.as_bytes().to_vec()
            } else {
                p.trim_start_matches('/').as_bytes().to_vec()
            };
            list.push(Pattern {
                text,
                negative,
                must_be_dir,
                no_dir,
            });
        }
        Patterns { list }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether a tree entry at `path` (`/`-separated, relative) is checked out. `is_dir` is true
    /// for directories and submodules.
    pub fn includes(&self, path: &str, is_dir: bool) -> bool {
        let mut end = path.len();
        let mut dir = is_dir;
        loop {
            let prefix = &path[..end];
            if let Some(decided) = self.decide(prefix, dir) {
                return decided;
            }
            match prefix.rfind('/') {
                Some(i) if i > 0 => {
                    end = i;
                    dir = true;
                }
                _ => return false,
            }
        }
    }

    fn decide(&self, path: &str, is_dir: bool) -> Option<bool> {
        let base = path.rsplit('/').next().unwrap_or(path);
        self.list.iter().rev().find_map(|p| {
            if p.must_be_dir && !is_dir {
                return None;
            }
            let hit = if p.no_dir {
                wildmatch(&p.text, base.as_bytes(), false)
            } else {
                wildmatch(&p.text, path.as_bytes(), true)
            };
            hit.then_some(!p.negative)
        })
    }
}

fn trim_trailing_spaces(s: &str) -> String {
    let b = s.as_bytes();
    let mut end = b.len();
    while end > 0 && b[end - 1] == b' ' {
        // A backslash-escaped space is kept.
        if end >= 2 && b[end - 2] == b'\\' {
            break;
        }
        end -= 1;
    }
    s[..end].to_string()
}

/// git's `wildmatch`; with `pathname`, `*` and `?` do not match `/` and `**` spans directories.
pub fn wildmatch(p: &[u8], t: &[u8], pathname: bool) -> bool {
    wm(p, t, pathname, true)
}

fn wm(p: &[u8], t: &[u8], pathname: bool, at_start: bool) -> bool {
    let Some(&c) = p.first() else {
        return t.is_empty();
    };
    match c {
        b'\\' if p.len() > 1 => t.first() == Some(&p[1]) && wm(&p[2..], &t[1..], pathname, false),
        b'?' => match t.first() {
            Some(&x) if !(pathname && x == b'/') => wm(&p[1..], &t[1..], pathname, false),
            _ => false,
        },
        b'*' => {
            let stars = p.iter().take_while(|&&x| x == b'*').count();
            let rest = &p[stars..];
            let double = pathname && stars >= 2 && at_start && (rest.is_empty() || rest[0] == b'/');
            if double {
                if rest.is_empty() {
                    return true;
                }
                // `**/rest`: zero or more leading directories.
                let after = &rest[1..];
                if wm(after, t, pathname, true) {
                    return true;
                }
                for (i, &x) in t.iter().enumerate() {
                    if x == b'/' && wm(after, &t[i + 1..], pathname, true) {
                        return true;
                    }
                }
                return false;
            }
            for i in 0..=t.len() {
                if wm(rest, &t[i..], pathname, false) {
                    return true;
                }
                if i < t.len() && pathname && t[i] == b'/' {
                    return false;
                }
            }
            false
        }
        b'[' => {
            let Some(&x) = t.first() else { return false };
            if pathname && x == b'/' {
                return false;
            }
            match match_class(&p[1..], x) {
                Some((ok, used)) => ok && wm(&p[1 + used..], &t[1..], pathname, false),
                // An unterminated class is a literal '['.
                None => x == b'[' && wm(&p[1..], &t[1..], pathname, false),
            }
        }
        _ => t.first() == Some(&c) && wm(&p[1..], &t[1..], pathname, c == b'/'),
    }
}

/// Matches `x` against the class body after `[`; returns (matched, bytes consumed incl. `]`).
fn match_class(p: &[u8], x: u8) -> Option<(bool, usize)> {
    let mut i = 0;
    let negate = matches!(p.first(), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        let c = p[i];
        if c == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if c == b'[' && p.get(i + 1) == Some(&b':') {
            if let Some(end) = p[i + 2..].windows(2).position(|w| w == b":]") {
                let name = &p[i + 2..i + 2 + end];
                matched |= match name {
                    b"alnum" => x.is_ascii_alphanumeric(),
                    b"alpha" => x.is_ascii_alphabetic(),
                    b"digit" => x.is_ascii_digit(),
                    b"lower" => x.is_ascii_lowercase(),
                    b"upper" => x.is_ascii_uppercase(),
                    b"space" => x.is_ascii_whitespace(),
                    b"punct" => x.is_ascii_punctuation(),
                    b"xdigit" => x.is_ascii_hexdigit(),
                    _ => false,
                };
                i += end + 4;
                continue;
            }
        }
        let (lo, next) = if c == b'\\' && i + 1 < p.len() {
            (p[i + 1], i + 2)
        } else {
            (c, i + 1)
        };
        if p.get(next) == Some(&b'-') && next + 1 < p.len() && p[next + 1] != b']' {
            let (hi, after) = if p[next + 1] == b'\\' && next + 2 < p.len() {
                (p[next + 2], next + 3)
            } else {
                (p[next + 1], next + 2)
            };
            matched |= lo <= x && x <= hi;
            i = after;
        } else {
            matched |= lo == x;
            i = next;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildmatch_basics() {
        assert!(wildmatch(b"a*", b"abc", true));
        assert!(!wildmatch(b"a*", b"a/b", true));
        assert!(wildmatch(b"**/b", b"x/y/b", true));
        assert!(wildmatch(b"**/b", b"b", true));
        assert!(wildmatch(b"a/**/b", b"a/b", true));
        assert!(wildmatch(b"a/**/b", b"a/x/y/b", true));
        assert!(wildmatch(b"a/**", b"a/x/y", true));
        assert!(wildmatch(b"[a-c]?", b"bz", true));
        assert!(!wildmatch(b"[!a-c]", b"b", true));
        assert!(wildmatch(b"*.md", b"README.md", false));
    }

    #[test]
    fn non_cone_semantics() {
        let p = Patterns::parse("a\nb/c\n");
        assert!(p.includes("a/file", false));
        assert!(p.includes("x/a/file", false));
        assert!(p.includes("a", false));
        assert!(p.includes("b/c/d/e", false));
        assert!(!p.includes("b/d", false));
        assert!(!p.includes("x/b/c/d", false));
        assert!(!p.includes("README", false));
        let p = Patterns::parse("/docs/\n!/docs/private/\n*.md\n");
        assert!(p.includes("docs/a.txt", false));
        assert!(!p.includes("docs/private/x", false));
        assert!(p.includes("src/x.md", false));
        assert!(!p.includes("docs", false));
        let p = Patterns::parse("CONTRIBUTING.md\nSTYLE.md\n");
        assert!(p.includes("CONTRIBUTING.md", false));
        assert!(p.includes("sub/STYLE.md", false));
        assert!(!p.includes("README.md", false));
    }
}
