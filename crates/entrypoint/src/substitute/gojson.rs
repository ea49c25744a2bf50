//! The parts of Go's `encoding/json` behaviour that the entrypoint's inputs depend on.
//!
//! Upstream decodes `-when_expressions` and `provenance.json` with `json.Unmarshal` into Go
//! structs: object keys match field names case-insensitively, unknown keys are ignored, `null`
//! leaves a string untouched and clears a slice, and later duplicate keys win. serde's derive
//! cannot express case-insensitive matching, so documents are first read into [`Json`], which
//! keeps object members in document order, and then converted by hand. Strings are encoded with
//! `gocompat::json`.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A parsed JSON document that keeps object members in order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Go's name for the kind of value, as used in `UnmarshalTypeError`.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "bool",
            Json::Number => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

/// Parses `text` as one JSON document (surrounding whitespace allowed, as in Go).
pub fn parse(text: &str) -> Result<Json, String> {
    parse_bytes(text.as_bytes())
}

/// Like [`parse`], for file contents.
pub fn parse_bytes(bytes: &[u8]) -> Result<Json, String> {
    serde_json::from_slice(bytes).map_err(|e| syntax_error(&e))
}

/// Words a serde_json error like Go where Go's wording is well known.
pub fn syntax_error(err: &serde_json::Error) -> String {
    if err.is_eof() {
        "unexpected end of JSON input".to_string()
    } else {
        format!("invalid JSON: {err}")
    }
}

/// Go's `UnmarshalTypeError` text. `place` is `"Go struct field <Struct>.<path>"` or `"Go value"`.
pub fn type_error(found: &Json, place: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into {place} of type {go_type}",
        found.kind()
    )
}

/// Whether object key `key` selects the Go struct field whose JSON name is `name`
/// (ASCII, lower case). Go folds case with `ToUpper(ToLower(r))`, under which four
/// non-ASCII letters also fold onto ASCII ones.
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

/// Converts a string field: `null` leaves `current` untouched, like Go.
pub fn decode_string(value: &Json, current: &mut String, place: &str) -> Result<(), String> {
    match value {
        Json::String(s) => *current = s.clone(),
        Json::Null => {}
        other => return Err(type_error(other, place, "string")),
    }
    Ok(())
}

/// Converts a `[]string` field: `null` gives `None` (Go's nil slice), `null` elements give `""`.
pub fn decode_string_list(value: &Json, place: &str) -> Result<Option<Vec<String>>, String> {
    match value {
        Json::Null => Ok(None),
        Json::Array(items) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_member_order_and_duplicates() {
        let j = parse(r#" {"b":1,"a":[true,null,"x"],"b":{}} "#).unwrap();
        assert_eq!(
            j,
            Json::Object(vec![
                ("b".into(), Json::Number),
                (
                    "a".into(),
                    Json::Array(vec![Json::Bool(true), Json::Null, Json::String("x".into())])
                ),
                ("b".into(), Json::Object(vec![])),
            ])
        );
    }

    #[test]
    fn eof_is_worded_like_go() {
        assert_eq!(parse("").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(parse("[1,").unwrap_err(), "unexpected end of JSON input");
        assert!(parse("[1] x").is_err());
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
    fn strings_are_escaped_like_go() {
        let mut out = String::new();
        gocompat::json::push_str(
            &mut out,
            "a\"b\\c\n\r\t\u{8}\u{c}\u{1}<>&\u{2028}\u{2029}é\u{7f}",
        );
        assert_eq!(
            out,
            r#""a\"b\\c\n\r\t\b\f\u0001\u003c\u003e\u0026\u2028\u2029é""#.replace('é', "é\u{7f}")
        );
    }

    #[test]
    fn type_errors_name_the_field() {
        let mut s = String::new();
        assert_eq!(
            decode_string(
                &Json::Number,
                &mut s,
                "Go struct field WhenExpression.input"
            )
            .unwrap_err(),
            "json: cannot unmarshal number into Go struct field WhenExpression.input of type string"
        );
        decode_string(&Json::Null, &mut s, "x").unwrap();
        assert_eq!(s, "");
        assert_eq!(decode_string_list(&Json::Null, "x").unwrap(), None);
        assert_eq!(
            decode_string_list(&Json::Array(vec![Json::Null]), "x").unwrap(),
            Some(vec![String::new()])
        );
    }
}
