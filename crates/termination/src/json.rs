//! Go `encoding/json` compatibility for `[]RunResult`: a byte-exact encoder (the 4096-byte
//! limit is measured on these bytes) and a decoder with Go's leniencies (case-insensitive keys,
//! `null` fields, invalid UTF-8 replaced per byte, legacy string types).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use gocompat::json::push_bytes;

use crate::RunResult;

/// `json.Marshal([]RunResult)`; an empty slice is `[]`.
pub(crate) fn encode(entries: &[RunResult]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        2 + entries
            .iter()
            .map(|e| e.key.len() + e.value.len() + e.resource_name.len() + 40)
            .sum::<usize>(),
    );
    out.push(b'[');
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        push_bytes(&mut out, entry.key.as_bytes());
        out.extend_from_slice(b",\"value\":");
        push_bytes(&mut out, &entry.value);
        if !entry.resource_name.is_empty() {
            out.extend_from_slice(b",\"resourceName\":");
            push_bytes(&mut out, entry.resource_name.as_bytes());
        }
        if entry.result_type != 0 {
            out.extend_from_slice(b",\"type\":");
            out.extend_from_slice(entry.result_type.to_string().as_bytes());
        }
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// Bytes as Go's JSON decoder sees them: each invalid UTF-8 byte becomes U+FFFD.
pub(crate) fn go_lossy_utf8(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{fffd}');
        }
    }
    Cow::Owned(out)
}

/// `json.Unmarshal(data, &[]RunResult)`, without any filtering.
pub(crate) fn decode(data: &[u8]) -> Result<Vec<RunResult>, String> {
    let text = go_lossy_utf8(data);
    let parsed: Option<Vec<Option<Entry>>> =
        serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(parsed
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.map(|e| e.0).unwrap_or_default())
        .collect())
}

/// Which struct field a JSON object key selects under Go's case-insensitive matching.
#[derive(PartialEq, Eq)]
enum Field {
    Key,
    Value,
    ResourceName,
    Type,
    Other,
}

fn field_of(name: &str) -> Field {
    // Go folds ASCII letters, plus the two non-ASCII runes whose fold class contains
    // an ASCII letter: KELVIN SIGN (k) and LATIN SMALL LETTER LONG S (s).
    let folded: String = name
        .chars()
        .map(|c| match c {
            '\u{212a}' => 'K',
            '\u{17f}' => 'S',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    match folded.as_str() {
        "KEY" => Field::Key,
        "VALUE" => Field::Value,
        "RESOURCENAME" => Field::ResourceName,
        "TYPE" => Field::Type,
        _ => Field::Other,
    }
}

struct Entry(RunResult);

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a RunResult object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut entry = RunResult::default();
        while let Some(GoStr(name)) = map.next_key::<GoStr>()? {
            match field_of(&name) {
                // A JSON null leaves a Go string field unchanged.
                Field::Key => {
                    if let Some(GoStr(s)) = map.next_value::<Option<GoStr>>()? {
                        entry.key = s;
                    }
                }
                Field::Value => {
                    if let Some(GoStr(s)) = map.next_value::<Option<GoStr>>()? {
                        entry.value = s.into_bytes();
                    }
                }
                Field::ResourceName => {
                    if let Some(GoStr(s)) = map.next_value::<Option<GoStr>>()? {
                        entry.resource_name = s;
                    }
                }
                Field::Type => {
                    let raw: serde_json::Value = map.next_value()?;
                    entry.result_type = result_type_of(&raw).map_err(de::Error::custom)?;
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Entry(entry))
    }
}

/// A JSON string decoded as Go does: a `\u` escape of an unpaired UTF-16 surrogate becomes
/// U+FFFD instead of an error. serde_json hands such strings over as WTF-8 bytes when asked
/// for bytes; every encoded surrogate (`ED A0..BF xx`) is then replaced.
struct GoStr(String);

impl<'de> Deserialize<'de> for GoStr {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(GoStrVisitor)
    }
}

struct GoStrVisitor;

impl<'de> Visitor<'de> for GoStrVisitor {
    type Value = GoStr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<GoStr, E> {
        Ok(GoStr(v.to_string()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<GoStr, E> {
        let mut out = Vec::with_capacity(v.len());
        let mut i = 0;
        while i < v.len() {
            if v[i] == 0xed && v.get(i + 1).is_some_and(|b| (0xa0..=0xbf).contains(b)) {
                out.extend_from_slice("\u{fffd}".as_bytes());
                i += 3;
            } else {
                out.push(v[i]);
                i += 1;
            }
        }
        Ok(GoStr(go_lossy_utf8(&out).into_owned()))
    }
}

/// `ResultType.UnmarshalJSON`: an integer, `null` (0) or a legacy name (unknown names are 10).
fn result_type_of(raw: &serde_json::Value) -> Result<u8, String> {
    match raw {
        serde_json::Value::Null => Ok(0),
        serde_json::Value::Number(n) => match n.as_i64() {
            // Go stores any int; types outside 0..=255 do not exist, so they read as unknown.
            Some(v) => Ok(u8::try_from(v).unwrap_or(crate::UNKNOWN_RESULT)),
            None => Err(format!(
                "unsupported value type, neither int nor string: {n}"
            )),
        },
        serde_json::Value::String(s) => Ok(match s.as_str() {
            "TaskRunResult" => crate::TASK_RUN_RESULT,
            "InternalTektonResult" => crate::INTERNAL_RESULT,
            "StepResult" => crate::STEP_RESULT,
            "StepArtifactsResult" => crate::STEP_ARTIFACTS_RESULT,
            "TaskRunArtifactsResult" => crate::TASK_RUN_ARTIFACTS_RESULT,
            _ => crate::UNKNOWN_RESULT,
        }),
        other => Err(format!(
            "unsupported value type, neither int nor string: {other}"
        )),
    }
}
