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
    wm(p, t, pathname, true) == Wm::Match
}

/// git's `dowild` outcomes. The two aborts prune the star loops as git does, so a pattern with
/// many stars against a long path (both can come from a hostile repository or task) is
/// polynomial, not exponential: `AbortAll` — the text ran out, no later start can match;
/// `AbortToStarStar` — a single `*` would have to cross a `/`, only an outer `**` can help.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wm {
    Match,
    NoMatch,
    AbortAll,
    AbortToStarStar,
}

fn wm(p: &[u8], t: &[u8], pathname: bool, at_start: bool) -> Wm {
    let Some(&c) = p.first() else {
        return if t.is_empty() { Wm::Match } else { Wm::NoMatch };
    };
    if t.is_empty() && c != b'*' {
        return Wm::AbortAll;
    }
    let literal = |ok: bool, rest: &[u8], after_slash: bool| {
        if ok {
            wm(rest, &t[1..], pathname, after_slash)
        } else {
            Wm::NoMatch
        }
    };
    match c {
        b'\\' if p.len() > 1 => literal(t[0] == p[1], &p[2..], false),
        b'?' => literal(!(pathname && t[0] == b'/'), &p[1..], false),
        b'*' => {
            let stars = p.iter().take_while(|&&x| x == b'*').count();
            let rest = &p[stars..];
            let double = pathname && stars >= 2 && at_start && (rest.is_empty() || rest[0] == b'/');
            if double {
                if rest.is_empty() {
                    return Wm::Match;
                }
                // `**/rest`: zero or more leading directories.
                let after = &rest[1..];
                let mut starts = std::iter::once(0).chain(
                    t.iter()
                        .enumerate()
                        .filter(|&(_, &x)| x == b'/')
                        .map(|(i, _)| i + 1),
                );
                return starts
                    .find_map(|start| match wm(after, &t[start..], pathname, true) {
                        Wm::NoMatch | Wm::AbortToStarStar => None,
                        decided => Some(decided),
                    })
                    .unwrap_or(Wm::AbortAll);
            }
            // A single star matches `/` only without `pathname` (there `*` is `**`).
            let match_slash = !pathname;
            for i in 0..=t.len() {
                match wm(rest, &t[i..], pathname, false) {
                    Wm::NoMatch => {}
                    Wm::AbortToStarStar if match_slash => {}
                    decided => return decided,
                }
                if i < t.len() && !match_slash && t[i] == b'/' {
                    return Wm::AbortToStarStar;
                }
            }
            Wm::AbortAll
        }
        b'[' => {
            let x = t[0];
            if pathname && x == b'/' {
                return Wm::NoMatch;
            }
            match match_class(&p[1..], x) {
                Some((ok, used)) => literal(ok, &p[1 + used..], false),
                // An unterminated class is a literal '['.
                None => literal(x == b'[', &p[1..], false),
            }
        }
        _ => literal(t[0] == c, &p[1..], c == b'/'),
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
        assert!(wildmatch(b"*", b"", true));
        assert!(!wildmatch(b"?", b"", true));
        assert!(wildmatch(b"a*/b", b"ax/b", true));
        assert!(!wildmatch(b"a*/b", b"ax/y/b", true));
        assert!(wildmatch(b"**/a*b", b"x/y/aqqb", true));
        assert!(wildmatch(b"a*b", b"a/x/b", false));
    }

    #[test]
    fn pathological_patterns_are_answered() {
        // Exponential for a plain backtracking matcher; git's aborts make it polynomial.
        let text = "a".repeat(60);
        for pathname in [true, false] {
            assert!(!wildmatch(
                b"*a*a*a*a*a*a*a*a*a*a*b",
                text.as_bytes(),
                pathname
            ));
            assert!(wildmatch(
                b"*a*a*a*a*a*a*a*a*a*a*b",
                format!("{text}b").as_bytes(),
                pathname
            ));
        }
        let deep = "a/".repeat(30) + "c";
        assert!(!wildmatch(b"**/a*/**/a*/**/a*/**/b", deep.as_bytes(), true));
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
