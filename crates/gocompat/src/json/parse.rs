//! Go `encoding/json` syntax, as `json.Unmarshal` sees it.
//!
//! A document Go rejects ends a step with Go's error text (`invalid character '}' after array
//! element`, `unexpected end of JSON input`). [`parse`] walks the bytes with the states of Go's
//! scanner, so the first error is found at the same byte with the same wording, and builds a
//! tree that keeps document order, duplicate keys and each value's raw bytes (a
//! `json.Unmarshaler` such as `v1.Hash` receives them). Strings decode as Go decodes them
//! (invalid UTF-8 and lone surrogates become U+FFFD), which serde_json does not do.

/// Go refuses documents nested deeper than this.
const MAX_DEPTH: usize = 10_000;

/// One JSON value and the bytes it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub kind: Kind<'a>,
    pub raw: &'a [u8],
}

/// What a [`Node`] holds; strings are decoded as Go decodes them.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'a> {
    Null,
    Bool(bool),
    /// The literal text (`-1.5e3`).
    Number(&'a str),
    Str(String),
    Array(Vec<Node<'a>>),
    /// Members in document order, duplicates kept.
    Object(Vec<(String, Node<'a>)>),
}

impl Kind<'_> {
    /// Go's name for the kind, as in `json: cannot unmarshal <kind> into …`.
    pub fn go_name(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "bool",
            Kind::Number(_) => "number",
            Kind::Str(_) => "string",
            Kind::Array(_) => "array",
            Kind::Object(_) => "object",
        }
    }
}

/// Go's `*json.SyntaxError`; its `Display` is Go's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Index of the offending byte; the input's length when it ended too early.
    pub offset: usize,
    /// The offending byte; `None` for `unexpected end of JSON input`.
    pub byte: Option<u8>,
    /// What the scanner was reading (`after array element`); quotes no input.
    pub context: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.byte {
            None => f.write_str(EOF),
            Some(c) => write!(f, "invalid character {} {}", quote_char(c), self.context),
        }
    }
}

impl From<SyntaxError> for String {
    fn from(e: SyntaxError) -> String {
        e.to_string()
    }
}

const EOF: &str = "unexpected end of JSON input";

fn eof(offset: usize) -> SyntaxError {
    SyntaxError {
        offset,
        byte: None,
        context: String::new(),
    }
}

/// Where the scanner is (Go's scanner states, by what they expect next).
#[derive(Clone, Copy)]
enum State {
    BeginValue,
    /// After `[`: a value or `]`.
    BeginValueOrEmpty,
    /// After `{`: a key or `}`.
    BeginKeyOrEmpty,
    /// After `,` in an object.
    BeginKey,
    EndValue,
    EndTop,
    InString,
    InStringEsc,
    /// Hex digits of `\u` seen so far.
    InStringEscU(u8),
    Neg,
    Zero,
    Digits,
    Dot,
    DotDigits,
    Exp,
    ExpSign,
    ExpDigits,
    /// Inside `true`/`false`/`null`: the literal and how many bytes matched.
    Literal(&'static str, usize),
}

/// An open container.
enum Frame<'a> {
    Array {
        start: usize,
        items: Vec<Node<'a>>,
    },
    Object {
        start: usize,
        members: Vec<(String, Node<'a>)>,
        /// The key whose value is being read.
        key: Option<String>,
    },
}

struct Parser<'a> {
    data: &'a [u8],
    stack: Vec<Frame<'a>>,
    top: Option<Node<'a>>,
    /// Start of the scalar being read.
    start: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `quoteChar`: the offending byte, read as a rune, in single quotes.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => {
            let quoted = goflag::go_quote(&char::from(c).to_string());
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

fn invalid(i: usize, c: u8, context: &str) -> SyntaxError {
    SyntaxError {
        offset: i,
        byte: Some(c),
        context: context.to_string(),
    }
}

/// Parses one whole document as `json.Unmarshal` checks it.
pub fn parse(data: &[u8]) -> Result<Node<'_>, SyntaxError> {
    let mut p = Parser {
        data,
        stack: Vec::new(),
        top: None,
        start: 0,
    };
    let mut state = State::BeginValue;
    for (i, &c) in data.iter().enumerate() {
        state = p.step(state, i, c)?;
    }
    // At the end Go feeds one space: it completes a number, or fails a half-read token.
    if !matches!(state, State::EndTop) {
        state = p.step(state, data.len(), b' ')?;
    }
    match (state, p.top) {
        (State::EndTop, Some(node)) => Ok(node),
        _ => Err(eof(data.len())),
    }
}

impl<'a> Parser<'a> {
    fn step(&mut self, state: State, i: usize, c: u8) -> Result<State, SyntaxError> {
        use State::*;
        Ok(match state {
            BeginValueOrEmpty if c == b']' => self.close(i)?,
            BeginValueOrEmpty | BeginValue => {
                if is_space(c) {
                    return Ok(state);
                }
                self.start = i;
                match c {
                    b'{' => {
                        self.open(
                            i,
                            c,
                            Frame::Object {
                                start: i,
                                members: Vec::new(),
                                key: None,
                            },
                        )?;
                        BeginKeyOrEmpty
                    }
                    b'[' => {
                        self.open(
                            i,
                            c,
                            Frame::Array {
                                start: i,
                                items: Vec::new(),
                            },
                        )?;
                        BeginValueOrEmpty
                    }
                    b'"' => InString,
                    b'-' => Neg,
                    b'0' => Zero,
                    b'1'..=b'9' => Digits,
                    b't' => Literal("true", 1),
                    b'f' => Literal("false", 1),
                    b'n' => Literal("null", 1),
                    _ => return Err(invalid(i, c, "looking for beginning of value")),
                }
            }
            BeginKeyOrEmpty if c == b'}' => self.close(i)?,
            BeginKeyOrEmpty | BeginKey => {
                if is_space(c) {
                    return Ok(state);
                }
                if c != b'"' {
                    return Err(invalid(i, c, "looking for beginning of object key string"));
                }
                self.start = i;
                InString
            }
            EndTop => {
                if !is_space(c) {
                    return Err(invalid(i, c, "after top-level value"));
                }
                EndTop
            }
            EndValue => self.end_value(i, c)?,
            InString => match c {
                b'"' => {
                    let raw = &self.data[self.start..=i];
                    self.string_done(raw)?
                }
                b'\\' => InStringEsc,
                0..=0x1f => return Err(invalid(i, c, "in string literal")),
                _ => InString,
            },
            InStringEsc => match c {
                b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => InString,
                b'u' => InStringEscU(0),
                _ => return Err(invalid(i, c, "in string escape code")),
            },
            InStringEscU(n) => {
                if !c.is_ascii_hexdigit() {
                    return Err(invalid(i, c, "in \\u hexadecimal character escape"));
                }
                if n == 3 {
                    InString
                } else {
                    InStringEscU(n + 1)
                }
            }
            Neg => match c {
                b'0' => Zero,
                b'1'..=b'9' => Digits,
                _ => return Err(invalid(i, c, "in numeric literal")),
            },
            Digits if c.is_ascii_digit() => Digits,
            Digits | Zero => match c {
                b'.' => Dot,
                b'e' | b'E' => Exp,
                _ => self.number_done(i, c)?,
            },
            Dot => {
                if !c.is_ascii_digit() {
                    return Err(invalid(i, c, "after decimal point in numeric literal"));
                }
                DotDigits
            }
            DotDigits => match c {
                b'0'..=b'9' => DotDigits,
                b'e' | b'E' => Exp,
                _ => self.number_done(i, c)?,
            },
            Exp if matches!(c, b'+' | b'-') => ExpSign,
            Exp | ExpSign => {
                if !c.is_ascii_digit() {
                    return Err(invalid(i, c, "in exponent of numeric literal"));
                }
                ExpDigits
            }
            ExpDigits => {
                if c.is_ascii_digit() {
                    ExpDigits
                } else {
                    self.number_done(i, c)?
                }
            }
            Literal(word, matched) => {
                let want = word.as_bytes()[matched];
                if c != want {
                    return Err(invalid(
                        i,
                        c,
                        &format!("in literal {word} (expecting {})", quote_char(want)),
                    ));
                }
                if matched + 1 < word.len() {
                    Literal(word, matched + 1)
                } else {
                    let kind = match word {
                        "null" => Kind::Null,
                        w => Kind::Bool(w == "true"),
                    };
                    let raw = &self.data[self.start..=i];
                    self.value_done(Node { kind, raw })?
                }
            }
        })
    }

    fn open(&mut self, i: usize, c: u8, frame: Frame<'a>) -> Result<(), SyntaxError> {
        self.stack.push(frame);
        if self.stack.len() > MAX_DEPTH {
            return Err(invalid(i, c, "exceeded max depth"));
        }
        Ok(())
    }

    /// `]` or `}` at `i`: the innermost container is complete.
    fn close(&mut self, i: usize) -> Result<State, SyntaxError> {
        let node = match self.stack.pop() {
            Some(Frame::Array { start, items }) => Node {
                kind: Kind::Array(items),
                raw: &self.data[start..=i],
            },
            Some(Frame::Object { start, members, .. }) => Node {
                kind: Kind::Object(members),
                raw: &self.data[start..=i],
            },
            None => return Err(eof(i)),
        };
        self.value_done(node)
    }

    /// A complete value: goes to its container (or becomes the document).
    fn value_done(&mut self, node: Node<'a>) -> Result<State, SyntaxError> {
        match self.stack.last_mut() {
            None => {
                self.top = Some(node);
                return Ok(State::EndTop);
            }
            Some(Frame::Array { items, .. }) => items.push(node),
            Some(Frame::Object { members, key, .. }) => {
                let name = key.take().unwrap_or_default();
                members.push((name, node));
            }
        }
        Ok(State::EndValue)
    }

    fn string_done(&mut self, raw: &'a [u8]) -> Result<State, SyntaxError> {
        let text = unquote(raw);
        // A string where an object key is due is the key.
        if let Some(Frame::Object { key, .. }) = self.stack.last_mut()
            && key.is_none()
        {
            *key = Some(text);
            return Ok(State::EndValue);
        }
        self.value_done(Node {
            kind: Kind::Str(text),
            raw,
        })
    }

    /// The byte `c` at `i` ends a number; it is then scanned as what follows a value.
    fn number_done(&mut self, i: usize, c: u8) -> Result<State, SyntaxError> {
        let raw = &self.data[self.start..i];
        // The scanner only accepted ASCII digits, signs, `.` and exponents.
        let text = std::str::from_utf8(raw).unwrap_or_default();
        let state = self.value_done(Node {
            kind: Kind::Number(text),
            raw,
        })?;
        self.step(state, i, c)
    }

    fn end_value(&mut self, i: usize, c: u8) -> Result<State, SyntaxError> {
        if is_space(c) {
            return Ok(State::EndValue);
        }
        match self.stack.last() {
            None => self.step(State::EndTop, i, c),
            Some(Frame::Array { .. }) => match c {
                b',' => Ok(State::BeginValue),
                b']' => self.close(i),
                _ => Err(invalid(i, c, "after array element")),
            },
            Some(Frame::Object { key: Some(_), .. }) => {
                if c == b':' {
                    Ok(State::BeginValue)
                } else {
                    Err(invalid(i, c, "after object key"))
                }
            }
            Some(Frame::Object { key: None, .. }) => match c {
                b',' => Ok(State::BeginKey),
                b'}' => self.close(i),
                _ => Err(invalid(i, c, "after object key:value pair")),
            },
        }
    }
}

/// Four hex digits at `at`, if there are.
fn hex4(s: &[u8], at: usize) -> Option<u32> {
    let digits = s.get(at..at + 4)?;
    digits.iter().try_fold(0u32, |acc, &b| {
        char::from(b).to_digit(16).map(|d| (acc << 4) | d)
    })
}

/// Decodes a scanned string literal (quotes included) as Go's decoder does: invalid UTF-8 is
/// one U+FFFD per byte, an unpaired surrogate escape is U+FFFD.
pub fn unquote(raw: &[u8]) -> String {
    let body = raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default();
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c == b'\\' {
            let Some(&e) = body.get(i + 1) else { break };
            i += 2;
            match e {
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let first = hex4(body, i).unwrap_or(0xfffd);
                    i += 4;
                    if (0xd800..0xe000).contains(&first) {
                        let low = if body.get(i..i + 2) == Some(b"\\u") {
                            hex4(body, i + 2)
                        } else {
                            None
                        };
                        match low {
                            Some(lo) if first < 0xdc00 && (0xdc00..0xe000).contains(&lo) => {
                                let cp = 0x10000 + ((first - 0xd800) << 10) + (lo - 0xdc00);
                                out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                                i += 6;
                            }
                            _ => out.push('\u{fffd}'),
                        }
                    } else {
                        out.push(char::from_u32(first).unwrap_or('\u{fffd}'));
                    }
                }
                // `"`, `\`, `/` (the scanner allowed nothing else).
                other => out.push(char::from(other)),
            }
            continue;
        }
        let (ch, len) = decode_char(&body[i..]);
        out.push(ch);
        i += len;
    }
    out
}

/// The first character of `s` and its length; an invalid byte is U+FFFD of length 1 (Go's
/// `utf8.DecodeRune`).
pub fn decode_char(s: &[u8]) -> (char, usize) {
    let end = s.len().min(4);
    let valid = match std::str::from_utf8(&s[..end]) {
        Ok(v) => v,
        Err(e) => std::str::from_utf8(&s[..e.valid_up_to()]).unwrap_or_default(),
    };
    match valid.chars().next() {
        Some(ch) => (ch, ch.len_utf8()),
        None => ('\u{fffd}', 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(doc: &str) -> String {
        parse(doc.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn syntax_errors_are_worded_as_go() {
        for (doc, want) in [
            ("", EOF),
            ("  ", EOF),
            ("{", EOF),
            ("{\"a\"", EOF),
            ("\"", EOF),
            ("[1", EOF),
            ("{\"a\":", EOF),
            (
                "tru",
                "invalid character ' ' in literal true (expecting 'e')",
            ),
            ("-", "invalid character ' ' in numeric literal"),
            (
                "1.",
                "invalid character ' ' after decimal point in numeric literal",
            ),
            ("\"\\", "invalid character ' ' in string escape code"),
            (
                "\"\\u1",
                "invalid character ' ' in \\u hexadecimal character escape",
            ),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            (
                "{\"a\":1 \"b\"}",
                "invalid character '\"' after object key:value pair",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            (
                "{1}",
                "invalid character '1' looking for beginning of object key string",
            ),
            (
                "{\"a\":tru}",
                "invalid character '}' in literal true (expecting 'e')",
            ),
            (
                "{\"a\":nul}",
                "invalid character '}' in literal null (expecting 'l')",
            ),
            ("{\"a\":-}", "invalid character '}' in numeric literal"),
            (
                "{\"a\":1.}",
                "invalid character '}' after decimal point in numeric literal",
            ),
            (
                "{\"a\":1e}",
                "invalid character '}' in exponent of numeric literal",
            ),
            (
                "{\"a\":01}",
                "invalid character '1' after object key:value pair",
            ),
            ("{} x", "invalid character 'x' after top-level value"),
            ("\"\\q\"", "invalid character 'q' in string escape code"),
            (
                "\"\\u12g4\"",
                "invalid character 'g' in \\u hexadecimal character escape",
            ),
            ("\"a\tb\"", "invalid character '\\t' in string literal"),
            ("é", "invalid character 'Ã' looking for beginning of value"),
            (
                "\u{1}",
                "invalid character '\\x01' looking for beginning of value",
            ),
            (
                "\u{7f}",
                "invalid character '\\x7f' looking for beginning of value",
            ),
            (
                "'",
                "invalid character '\\'' looking for beginning of value",
            ),
            (
                "{\"a\":[1,]}",
                "invalid character ']' looking for beginning of value",
            ),
            (
                "{\"a\":1,}",
                "invalid character '}' looking for beginning of object key string",
            ),
        ] {
            assert_eq!(err(doc), want, "{doc:?}");
        }
        assert_eq!(
            parse(b"\xa0").unwrap_err().to_string(),
            "invalid character '\\u00a0' looking for beginning of value"
        );
        assert_eq!(
            parse(b"\xff").unwrap_err().to_string(),
            "invalid character '\u{ff}' looking for beginning of value"
        );
    }

    #[test]
    fn depth_limit() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(deep(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            err(&deep(MAX_DEPTH + 1)),
            "invalid character '[' exceeded max depth"
        );
    }

    #[test]
    fn tree_and_raw_bytes() {
        let doc = br#" {"a": [1, -2.5e3, true, null], "b": {"c": "x\u00e9"}, "a": "\ud800"} "#;
        let node = parse(doc).unwrap();
        let Kind::Object(members) = &node.kind else {
            panic!("{node:?}")
        };
        assert_eq!(members.len(), 3);
        let Kind::Array(items) = &members[0].1.kind else {
            panic!()
        };
        assert_eq!(items[1].kind, Kind::Number("-2.5e3"));
        assert_eq!(items[1].raw, b"-2.5e3");
        assert_eq!(members[0].1.raw, b"[1, -2.5e3, true, null]");
        assert_eq!(members[1].1.raw, br#"{"c": "x\u00e9"}"#);
        assert_eq!(members[2].1.kind, Kind::Str("\u{fffd}".into()));
        assert_eq!(node.raw, &doc[1..doc.len() - 1]);
        assert_eq!(parse(b"5").unwrap().kind, Kind::Number("5"));
        assert_eq!(parse(b"-0.5E+2 ").unwrap().raw, b"-0.5E+2");
    }

    #[test]
    fn strings_decode_like_go() {
        assert_eq!(unquote(br#""a\"b\\c\/\n\u0041""#), "a\"b\\c/\nA");
        assert_eq!(
            unquote(br#""\ud83d\ude00\udc00\ud800\u0041""#),
            "😀\u{fffd}\u{fffd}A"
        );
        assert_eq!(
            unquote(b"\"a\xff\xf0\x9f\x98b\""),
            "a\u{fffd}\u{fffd}\u{fffd}\u{fffd}b"
        );
        assert_eq!(unquote(b"\"\xed\xa0\x80\""), "\u{fffd}\u{fffd}\u{fffd}");
    }
}
