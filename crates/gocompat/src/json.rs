//! Go `encoding/json`: string encoding as `json.Marshal` writes a `string` (HTML escaping on),
//! the scanner ([`parse`]) and the rules every hand-written `json.Unmarshal` into a Go struct
//! shares ([`field_is`], [`type_error`]).

mod parse;
pub use parse::{Kind, Node, SyntaxError, decode_char, parse, unquote};

/// Whether object key `key` selects the Go struct field whose JSON name is `name` (ASCII).
/// Go folds case with `ToUpper(ToLower(r))`, under which four non-ASCII letters also fold onto
/// ASCII ones (`ſ` → S, Kelvin sign → K, `ı` and `İ` → I).
pub fn field_is(key: &str, name: &str) -> bool {
    let mut key_chars = key.chars();
    for want in name.chars() {
        let Some(c) = key_chars.next() else {
            return false;
        };
        let folded = match c {
            'ſ' => 'S',
            '\u{212A}' => 'K',
            'ı' | 'İ' => 'I',
            c => c.to_ascii_uppercase(),
        };
        if folded != want.to_ascii_uppercase() {
            return false;
        }
    }
    key_chars.next().is_none()
}

/// Decodes into a Go `string` field: `null` leaves `current` as it was.
pub fn decode_string(value: &Node<'_>, current: &mut String, place: &str) -> Result<(), String> {
    match &value.kind {
        Kind::Str(s) => *current = s.clone(),
        Kind::Null => {}
        other => return Err(type_error(other, place, "string")),
    }
    Ok(())
}

/// Decodes into a Go `[]string`: `null` is `None` (a nil slice), a `null` element `""`.
pub fn decode_string_list(value: &Node<'_>, place: &str) -> Result<Option<Vec<String>>, String> {
    match &value.kind {
        Kind::Null => Ok(None),
        Kind::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let mut s = String::new();
                decode_string(item, &mut s, place)?;
                out.push(s);
            }
            Ok(Some(out))
        }
        other => Err(type_error(other, place, "[]string")),
    }
}

/// Go's `UnmarshalTypeError` text. `place` is `Go struct field <Struct>.<path>` or `Go value`.
pub fn type_error(found: &Kind<'_>, place: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into {place} of type {go_type}",
        found.go_name()
    )
}

/// Where encoded text goes; the encoder only ever emits valid UTF-8 pieces.
trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for Vec<u8> {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

const HEX: &str = "0123456789abcdef";

fn encode<S: Sink>(out: &mut S, bytes: &[u8]) {
    out.put("\"");
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        // Runs of characters that need no escape are copied in one piece.
        let mut start = 0;
        for (i, c) in valid.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\u{8}' => "\\b",
                '\u{c}' => "\\f",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                '<' | '>' | '&' | '\u{0}'..='\u{1f}' => "\\u00",
                _ => continue,
            };
            out.put(&valid[start..i]);
            out.put(escape);
            if escape == "\\u00" {
                let b = usize::from(c as u8);
                out.put(&HEX[b >> 4..(b >> 4) + 1]);
                out.put(&HEX[b & 0xf..(b & 0xf) + 1]);
            }
            start = i + c.len_utf8();
        }
        out.put(&valid[start..]);
        // Go decodes invalid UTF-8 one byte at a time: one replacement per byte.
        for _ in chunk.invalid() {
            out.put("\\ufffd");
        }
    }
    out.put("\"");
}

/// Appends `bytes` to `out` exactly as Go's `json.Marshal` encodes a string holding them:
/// `"` `\` `\b` `\f` `\n` `\r` `\t` as short escapes, other controls and `<` `>` `&` as
/// `\u00xx`, U+2028/U+2029 escaped, and one `\ufffd` per byte of invalid UTF-8.
pub fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    encode(out, bytes);
}

/// [`push_bytes`] for text built as a `String`.
pub fn push_str(out: &mut String, s: &str) {
    encode(out, s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        push_bytes(&mut out, bytes);
        let mut text = String::new();
        push_str(&mut text, &String::from_utf8_lossy(bytes));
        if std::str::from_utf8(bytes).is_ok() {
            assert_eq!(text.as_bytes(), out, "String and Vec encoders agree");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(enc(b"a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(
            enc("a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}<>&\u{2028}\u{2029}é\u{7f}".as_bytes()),
            "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u003c\\u003e\\u0026\\u2028\\u2029é\u{7f}\""
        );
        assert_eq!(enc(b""), r#""""#);
        assert_eq!(enc("plain ✓".as_bytes()), "\"plain ✓\"");
    }

    #[test]
    fn field_names_fold_like_go() {
        assert!(field_is("input", "input"));
        assert!(field_is("INPUT", "input"));
        assert!(field_is("İnput", "input"));
        assert!(field_is("dıgeſt", "digest"));
        assert!(field_is("\u{212A}ey", "key"));
        assert!(!field_is("inputs", "input"));
        assert!(!field_is("inpu", "input"));
        assert!(!field_is("ïnput", "input"));
    }

    #[test]
    fn invalid_utf8_is_one_replacement_per_byte() {
        assert_eq!(enc(b"a\xffb"), r#""a\ufffdb""#);
        assert_eq!(enc(b"\xe2\x82"), r#""\ufffd\ufffd""#);
        assert_eq!(enc(b"x\xc0\x80<"), r#""x\ufffd\ufffd\u003c""#);
    }
}
