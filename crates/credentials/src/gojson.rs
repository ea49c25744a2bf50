//! The small part of Go's `encoding/json` the docker writer needs.
//!
//! Upstream decodes `.dockercfg` / `.dockerconfigjson` with `json.Unmarshal` into Go structs and
//! re-encodes with `json.Marshal`. Reproducing the resulting bytes needs Go's decoding rules
//! (document order, duplicate keys, case-insensitive field names, invalid UTF-8 and lone
//! surrogates become U+FFFD, `null` leaves a field alone); serde_json differs on several of
//! these, so this is a tiny dedicated parser. Strings are encoded with `gocompat::json`.
//! Error messages never quote input bytes: the input holds registry passwords.

/// A parsed JSON value; objects keep document order and duplicate keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number,
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Go's name for the kind, as in `cannot unmarshal <kind> into …`.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "bool",
            Json::Number => "number",
            Json::Str(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }
}

/// Parses a whole document (Go's `checkValid` + decode): trailing non-space bytes are an error.
pub fn parse(input: &[u8]) -> Result<Json, String> {
    let mut p = Parser { s: input, i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("unexpected data after top-level value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Go allows 10000 levels; 1000 keeps the recursive parser well inside a thread stack and is
/// far beyond any docker config (3 levels).
const MAX_DEPTH: usize = 1000;

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        if self.i >= self.s.len() {
            "unexpected end of JSON input".to_string()
        } else {
            format!("invalid JSON at byte offset {}: {what}", self.i)
        }
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn literal(&mut self, word: &[u8], v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            // Point at the first differing byte, like Go.
            let mut k = 0;
            while self.i + k < self.s.len() && k < word.len() && self.s[self.i + k] == word[k] {
                k += 1;
            }
            self.i += k;
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("exceeded max depth"));
        }
        match self.peek() {
            None => Err(self.err("")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("looking for beginning of value")),
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let digits = |p: &mut Self| {
            let start = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i > start
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.err("after decimal point in numeric literal"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.err("in exponent of numeric literal"));
            }
        }
        Ok(Json::Number)
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.err("after array element")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("looking for beginning of object key string"));
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("after object key"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            members.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.err("after object key:value pair")),
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.s.get(at..at + 4)?;
        let text = std::str::from_utf8(h).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    }

    /// A string literal, decoded like Go's `unquote`.
    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err(""));
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err(""));
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let Some(first) = self.hex4(self.i) else {
                                return Err(self.err("in \\u hexadecimal character escape"));
                            };
                            self.i += 4;
                            if (0xD800..0xE000).contains(&first) {
                                // A valid pair combines; anything else is U+FFFD for this half.
                                let second = if self.s.get(self.i..self.i + 2) == Some(b"\\u") {
                                    self.hex4(self.i + 2)
                                } else {
                                    None
                                };
                                match second {
                                    Some(lo)
                                        if (0xD800..0xDC00).contains(&first)
                                            && (0xDC00..0xE000).contains(&lo) =>
                                    {
                                        let cp = 0x10000 + ((first - 0xD800) << 10) + (lo - 0xDC00);
                                        out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                                        self.i += 6;
                                    }
                                    _ => out.push('\u{FFFD}'),
                                }
                            } else {
                                out.push(char::from_u32(first).unwrap_or('\u{FFFD}'));
                            }
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.err("in string escape code"));
                        }
                    }
                }
                0..=0x1f => return Err(self.err("in string literal")),
                0x20..=0x7f => {
                    out.push(c as char);
                    self.i += 1;
                }
                _ => {
                    // Multi-byte UTF-8; each invalid byte becomes one U+FFFD (Go's DecodeRune).
                    let end = (self.i + 4).min(self.s.len());
                    let chunk = &self.s[self.i..end];
                    let valid = match std::str::from_utf8(chunk) {
                        Ok(s) => s,
                        Err(e) => {
                            // Safe: the prefix up to valid_up_to is valid UTF-8.
                            std::str::from_utf8(&chunk[..e.valid_up_to()]).unwrap_or("")
                        }
                    };
                    match valid.chars().next() {
                        Some(ch) => {
                            out.push(ch);
                            self.i += ch.len_utf8();
                        }
                        None => {
                            out.push('\u{FFFD}');
                            self.i += 1;
                        }
                    }
                }
            }
        }
    }
}

/// Go's JSON field-name folding (`foldName`): ASCII upper-casing plus the two non-ASCII runes
/// that fold onto ASCII letters (`ſ` → `S`, Kelvin sign → `K`).
fn fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '\u{17F}' => 'S',
            '\u{212A}' => 'K',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// Whether JSON key `key` selects the Go struct field tagged `field` (exact or case-folded).
pub fn key_matches(key: &str, field: &str) -> bool {
    key == field || fold(key) == fold(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        let mut o = String::new();
        gocompat::json::push_str(&mut o, s);
        o
    }

    #[test]
    fn encodes_like_go() {
        assert_eq!(enc("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(
            enc("\u{1}\u{8}\u{c}\n\u{7f}é\u{2028}"),
            "\"\\u0001\\b\\f\\n\u{7f}é\\u2028\""
        );
        assert_eq!(enc("q\"\\"), r#""q\"\\""#);
    }

    #[test]
    fn parses_go_style() {
        let v = parse(br#" {"a":[1,-2.5e3,true,null],"a":"x\u00e9\ud83d\ude00\ud800"} "#).unwrap();
        let Json::Object(m) = v else { panic!() };
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].1, Json::Str("xé😀\u{FFFD}".into()));
        // invalid UTF-8 inside a string: one U+FFFD per bad byte
        let v = parse(b"\"a\xff\xf0\x9f\x98b\"").unwrap();
        assert_eq!(v, Json::Str("a\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}b".into()));
        for bad in [
            &b"{"[..],
            b"{\"a\" 1}",
            b"[1,]",
            b"01",
            b"\"\x01\"",
            b"{} x",
            b"",
            b"tru",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_never_quote_input() {
        let e = parse(b"{\"auth\": s3cr3tcanary}").unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn field_folding() {
        assert!(key_matches("AUTH", "auth"));
        assert!(key_matches("u\u{17F}ername", "username"));
        assert!(!key_matches("auths", "auth"));
    }
}

#[cfg(test)]
mod depth_tests {
    #[test]
    fn deep_nesting_is_bounded_without_overflow() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(super::parse(deep(super::MAX_DEPTH).as_bytes()).is_ok());
        assert!(super::parse(deep(super::MAX_DEPTH + 2).as_bytes()).is_err());
        let obj = format!(
            "{}1{}",
            "{\"a\":".repeat(super::MAX_DEPTH),
            "}".repeat(super::MAX_DEPTH)
        );
        assert!(super::parse(obj.as_bytes()).is_ok());
        assert!(super::parse("[".repeat(1 << 20).as_bytes()).is_err());
    }
}
