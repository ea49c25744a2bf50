//! Image digests (`sha256:<64 hex>`) as go-containerregistry's `v1.Hash` reads and prints them.
//!
//! A manifest descriptor's `digest` is decoded by `v1.Hash`'s own `UnmarshalJSON`, which first
//! un-quotes the raw JSON with Go's `strconv.Unquote` (whose escapes differ from JSON's: `\/`
//! and surrogate escapes are refused) and then checks the text; its errors end the step with
//! their exact wording, so both steps are reproduced here. The digest of a whole index is the
//! SHA-256 of its bytes.

use sha2::{Digest as _, Sha256};

/// An algorithm and its hex digest; the zero value prints as `:` (what upstream reports for
/// a lone manifest without a `digest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hash {
    pub algorithm: String,
    pub hex: String,
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl Hash {
    /// `v1.Hash.UnmarshalJSON` of a raw JSON value (quotes included).
    pub fn from_json(raw: &[u8]) -> Result<Hash, String> {
        let text = go_unquote(raw).ok_or_else(|| "invalid syntax".to_string())?;
        Hash::parse(&text)
    }

    /// `v1.NewHash`: `<algorithm>:<hex>`, lower-case hex, `sha256` only, 64 digits.
    pub fn parse(s: &str) -> Result<Hash, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let [algorithm, hex] = parts[..] else {
            return Err(format!("cannot parse hash: {}", goflag::go_quote(s)));
        };
        let rest = hex.trim_start_matches(|c: char| matches!(c, '0'..='9' | 'a'..='f'));
        if let Some(&bad) = rest.as_bytes().first() {
            // Go prints the byte as a rune (`%c` of a byte): 0xc3 is `Ã`.
            return Err(format!(
                "found non-hex character in hash: {}",
                char::from(bad)
            ));
        }
        if algorithm != "sha256" {
            return Err(format!("unsupported hash: {}", goflag::go_quote(algorithm)));
        }
        if hex.len() != 64 {
            return Err(format!("wrong number of hex digits for {algorithm}: {hex}"));
        }
        Ok(Hash {
            algorithm: algorithm.to_string(),
            hex: hex.to_string(),
        })
    }

    /// The SHA-256 of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Hash {
        let sum = Sha256::digest(bytes);
        Hash {
            algorithm: "sha256".to_string(),
            hex: sum.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// Go's `strconv.Unquote` of a JSON value's raw bytes; `None` is Go's `invalid syntax`.
/// Only a double-quoted literal can succeed; invalid UTF-8 becomes U+FFFD per byte.
pub fn go_unquote(raw: &[u8]) -> Option<String> {
    let body = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            // An unescaped quote inside: the literal ended early, text follows it.
            b'"' | b'\n' => return None,
            b'\\' => {
                let escape = *body.get(i + 1)?;
                i += 2;
                let value = match escape {
                    b'a' => '\u{7}',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'v' => '\u{b}',
                    b'\\' => '\\',
                    b'"' => '"',
                    b'u' => {
                        let digits = std::str::from_utf8(body.get(i..i + 4)?).ok()?;
                        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return None;
                        }
                        i += 4;
                        // A surrogate half is not a valid rune: refused.
                        char::from_u32(u32::from_str_radix(digits, 16).ok()?)?
                    }
                    // JSON's `\/`, and anything JSON's scanner already refused.
                    _ => return None,
                };
                out.push(value);
            }
            _ => {
                let (ch, len) = gocompat::json::decode_char(&body[i..]);
                out.push(ch);
                i += len;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn parse_errors_match_upstream() {
        let cases = [
            ("a:b:c", "cannot parse hash: \"a:b:c\""),
            ("", "cannot parse hash: \"\""),
            ("bad", "cannot parse hash: \"bad\""),
            ("md5:abc", "unsupported hash: \"md5\""),
            ("sha256:ABC", "found non-hex character in hash: A"),
            ("sha256:é", "found non-hex character in hash: Ã"),
            ("sha256:\u{fffd}", "found non-hex character in hash: ï"),
            ("sha256:abc", "wrong number of hex digits for sha256: abc"),
            ("sha256:", "wrong number of hex digits for sha256: "),
            ("sha512:xyz", "found non-hex character in hash: x"),
        ];
        for (input, want) in cases {
            assert_eq!(Hash::parse(input).unwrap_err(), want, "{input:?}");
        }
        let ok = Hash::parse(&format!("sha256:{H1}")).unwrap();
        assert_eq!(ok.to_string(), format!("sha256:{H1}"));
        assert_eq!(Hash::default().to_string(), ":");
    }

    #[test]
    fn json_values_are_unquoted_like_strconv() {
        let syntax = Err("invalid syntax".to_string());
        for raw in [&b"null"[..], b"5", b"{}", b"[]", b"true", br#""sha256:\/""#] {
            assert_eq!(Hash::from_json(raw), syntax, "{raw:?}");
        }
        assert_eq!(Hash::from_json(br#""\ud800""#), syntax);
        assert_eq!(
            Hash::from_json(br#""sha256:\u0061""#).unwrap_err(),
            "wrong number of hex digits for sha256: a"
        );
        assert_eq!(
            Hash::from_json(b"\"sha256:\xff\"").unwrap_err(),
            "found non-hex character in hash: ï"
        );
        assert_eq!(
            go_unquote(br#""a\"b\\\t\u00e9""#).as_deref(),
            Some("a\"b\\\t\u{e9}")
        );
    }

    #[test]
    fn sha256_of_bytes() {
        // `printf '{"schemaVersion":2,"manifests":[]}' | sha256sum`: the 0-manifest index
        // (docs/contract.md §8.2).
        assert_eq!(
            Hash::sha256_of(br#"{"schemaVersion":2,"manifests":[]}"#).to_string(),
            "sha256:bc5857ac9458293d5111ab85c952172cd7f56bceb4e3014ddc4cafac8927b313"
        );
        assert_eq!(
            Hash::sha256_of(b"").hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Hash::sha256_of(b"null").hex,
            "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"
        );
    }
}
