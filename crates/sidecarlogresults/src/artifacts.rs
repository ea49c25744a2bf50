//! A step's `provenance.json`, decoded as Go decodes it into Tekton's `v1.Artifacts` and
//! encoded again as Go's `json.Marshal` writes that struct.
//!
//! The sidecar does not pass the file through: it reports the re-encoded document, so unknown
//! fields disappear, field names come back in their canonical lower case whatever case the
//! file used (Go matches them case-insensitively), empty fields are left out (`omitempty`
//! everywhere), digest maps are sorted by algorithm and strings use Go's escaping.
//!
//! Decoding follows `json.Unmarshal` also where it is surprising, because the result must be
//! the same document: a repeated key decodes into what the first occurrence left (slices reuse
//! their elements, digest maps merge), `null` clears a list or map and leaves a string or bool
//! as it was, and the first type error in document order is the error.

use std::collections::BTreeMap;

use gocompat::json::{self, Kind, Node};

/// `v1.Artifacts`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    pub inputs: GoSlice<Artifact>,
    pub outputs: GoSlice<Artifact>,
}

/// `v1.Artifact`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifact {
    pub name: String,
    pub values: GoSlice<ArtifactValue>,
    pub build_output: bool,
}

/// `v1.ArtifactValue`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactValue {
    /// `nil` is `None`; Go sorts the keys when encoding, so a sorted map loses nothing.
    pub digest: Option<BTreeMap<String, String>>,
    pub uri: String,
}

/// A Go slice as `json.Unmarshal` uses it: decoding into it again overwrites elements in
/// place and can expose elements left beyond its length by an earlier, longer value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoSlice<T> {
    /// The backing array (its length is the slice's capacity, as far as it matters here).
    backing: Vec<T>,
    len: usize,
}

impl<T> GoSlice<T> {
    /// The elements within the slice's length.
    pub fn items(&self) -> &[T] {
        &self.backing[..self.len]
    }
}

/// Decodes `data` (a whole `provenance.json`); `Err` is Go's error text.
pub fn decode(data: &[u8]) -> Result<Artifacts, String> {
    let node = json::parse(data)?;
    let mut out = Artifacts::default();
    decode_artifacts(&node, &mut out)?;
    Ok(out)
}

fn place(path: &str) -> String {
    format!("Go struct field {path}")
}

fn decode_artifacts(node: &Node<'_>, out: &mut Artifacts) -> Result<(), String> {
    match &node.kind {
        Kind::Null => Ok(()),
        Kind::Object(members) => {
            for (key, value) in members {
                if json::field_is(key, "inputs") {
                    decode_slice(
                        value,
                        &mut out.inputs,
                        "Artifacts",
                        "inputs",
                        decode_artifact,
                    )?;
                } else if json::field_is(key, "outputs") {
                    decode_slice(
                        value,
                        &mut out.outputs,
                        "Artifacts",
                        "outputs",
                        decode_artifact,
                    )?;
                }
            }
            Ok(())
        }
        other => Err(json::type_error(other, "Go value", "v1.Artifacts")),
    }
}

fn decode_artifact(node: &Node<'_>, out: &mut Artifact, path: &str) -> Result<(), String> {
    match &node.kind {
        Kind::Null => Ok(()),
        Kind::Object(members) => {
            for (key, value) in members {
                if json::field_is(key, "name") {
                    json::decode_string(
                        value,
                        &mut out.name,
                        &place(&format!("Artifact.{path}.name")),
                    )?;
                } else if json::field_is(key, "values") {
                    let p = format!("{path}.values");
                    decode_slice(value, &mut out.values, "Artifact", &p, decode_value)?;
                } else if json::field_is(key, "buildOutput") {
                    match &value.kind {
                        Kind::Bool(b) => out.build_output = *b,
                        Kind::Null => {}
                        other => {
                            return Err(json::type_error(
                                other,
                                &place(&format!("Artifact.{path}.buildOutput")),
                                "bool",
                            ));
                        }
                    }
                }
            }
            Ok(())
        }
        other => Err(json::type_error(
            other,
            &place(&format!("Artifacts.{path}")),
            "v1.Artifact",
        )),
    }
}

fn decode_value(node: &Node<'_>, out: &mut ArtifactValue, path: &str) -> Result<(), String> {
    match &node.kind {
        Kind::Null => Ok(()),
        Kind::Object(members) => {
            for (key, value) in members {
                if json::field_is(key, "digest") {
                    let p = place(&format!("ArtifactValue.{path}.digest"));
                    match &value.kind {
                        Kind::Null => out.digest = None,
                        Kind::Object(entries) => {
                            let map = out.digest.get_or_insert_with(BTreeMap::new);
                            for (alg, hex) in entries {
                                let mut s = String::new();
                                json::decode_string(hex, &mut s, &p)?;
                                map.insert(alg.clone(), s);
                            }
                        }
                        other => {
                            return Err(json::type_error(other, &p, "map[v1.Algorithm]string"));
                        }
                    }
                } else if json::field_is(key, "uri") {
                    json::decode_string(
                        value,
                        &mut out.uri,
                        &place(&format!("ArtifactValue.{path}.uri")),
                    )?;
                }
            }
            Ok(())
        }
        other => Err(json::type_error(
            other,
            &place(&format!("Artifact.{path}")),
            "v1.ArtifactValue",
        )),
    }
}

/// The Go type name of a list's element, for type errors.
trait Elem {
    const GO_TYPE: &'static str;
}

impl Elem for Artifact {
    const GO_TYPE: &'static str = "v1.Artifact";
}

impl Elem for ArtifactValue {
    const GO_TYPE: &'static str = "v1.ArtifactValue";
}

type DecodeElem<T> = fn(&Node<'_>, &mut T, &str) -> Result<(), String>;

/// Decodes a list field; `strukt` is the Go struct holding it and `path` the field path from
/// the document's root (as Go's type errors name them).
fn decode_slice<T: Default + Elem>(
    node: &Node<'_>,
    out: &mut GoSlice<T>,
    strukt: &str,
    path: &str,
    elem: DecodeElem<T>,
) -> Result<(), String> {
    match &node.kind {
        Kind::Null => {
            *out = GoSlice {
                backing: Vec::new(),
                len: 0,
            }
        }
        Kind::Array(items) if items.is_empty() => {
            *out = GoSlice {
                backing: Vec::new(),
                len: 0,
            }
        }
        Kind::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i >= out.backing.len() {
                    out.backing.push(T::default());
                }
                out.len = out.len.max(i + 1);
                elem(item, &mut out.backing[i], path)?;
            }
            out.len = items.len();
        }
        other => {
            return Err(json::type_error(
                other,
                &place(&format!("{strukt}.{path}")),
                &format!("[]{}", T::GO_TYPE),
            ));
        }
    }
    Ok(())
}

/// `json.Marshal(&artifacts)`: compact, `omitempty` on every field, HTML-safe escaping.
pub fn encode(a: &Artifacts) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'{');
    let mut first = true;
    for (name, list) in [("inputs", &a.inputs), ("outputs", &a.outputs)] {
        if list.items().is_empty() {
            continue;
        }
        field(&mut out, &mut first, name);
        out.push(b'[');
        for (i, artifact) in list.items().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            encode_artifact(&mut out, artifact);
        }
        out.push(b']');
    }
    out.push(b'}');
    out
}

fn field(out: &mut Vec<u8>, first: &mut bool, name: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn encode_artifact(out: &mut Vec<u8>, a: &Artifact) {
    out.push(b'{');
    let mut first = true;
    if !a.name.is_empty() {
        field(out, &mut first, "name");
        json::push_bytes(out, a.name.as_bytes());
    }
    if !a.values.items().is_empty() {
        field(out, &mut first, "values");
        out.push(b'[');
        for (i, v) in a.values.items().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            encode_value(out, v);
        }
        out.push(b']');
    }
    if a.build_output {
        field(out, &mut first, "buildOutput");
        out.extend_from_slice(b"true");
    }
    out.push(b'}');
}

fn encode_value(out: &mut Vec<u8>, v: &ArtifactValue) {
    out.push(b'{');
    let mut first = true;
    if let Some(digest) = v.digest.as_ref().filter(|d| !d.is_empty()) {
        field(out, &mut first, "digest");
        out.push(b'{');
        for (i, (alg, hex)) in digest.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::push_bytes(out, alg.as_bytes());
            out.push(b':');
            json::push_bytes(out, hex.as_bytes());
        }
        out.push(b'}');
    }
    if !v.uri.is_empty() {
        field(out, &mut first, "uri");
        json::push_bytes(out, v.uri.as_bytes());
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(doc: &str) -> String {
        String::from_utf8(encode(&decode(doc.as_bytes()).unwrap())).unwrap()
    }

    #[test]
    fn reencodes_like_go() {
        assert_eq!(
            roundtrip(
                r#"{"Outputs":[{"name":"image","values":[{"URI":"r/i<1>","digest":{"sha256":"bb","md5":"aa"}}],"buildOutput":true,"x":1}],"extra":{}}"#
            ),
            r#"{"outputs":[{"name":"image","values":[{"digest":{"md5":"aa","sha256":"bb"},"uri":"r/i\u003c1\u003e"}],"buildOutput":true}]}"#
        );
        assert_eq!(roundtrip("null"), "{}");
        assert_eq!(roundtrip(r#"{"inputs":[]}"#), "{}");
        assert_eq!(
            roundtrip(r#"{"inputs":[{"values":[{"digest":{}}]},null]}"#),
            r#"{"inputs":[{"values":[{}]},{}]}"#
        );
    }

    #[test]
    fn repeated_keys_decode_into_what_is_there() {
        assert_eq!(
            roundtrip(
                r#"{"inputs":[{"name":"a","buildOutput":true},{"name":"b"}],"inputs":[{"name":"c"}]}"#
            ),
            r#"{"inputs":[{"name":"c","buildOutput":true}]}"#
        );
        // The second element survives beyond the slice's length and comes back unchanged.
        assert_eq!(
            roundtrip(
                r#"{"inputs":[{"name":"a"},{"name":"b"}],"inputs":[{}],"inputs":[{},{"uri":"x"}]}"#
            ),
            r#"{"inputs":[{"name":"a"},{"name":"b"}]}"#
        );
        assert_eq!(
            roundtrip(r#"{"inputs":[{"values":[{"digest":{"a":"1"},"digest":{"b":"2"}}]}]}"#),
            r#"{"inputs":[{"values":[{"digest":{"a":"1","b":"2"}}]}]}"#
        );
    }

    #[test]
    fn errors() {
        assert_eq!(decode(b"").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(
            decode(b"[]").unwrap_err(),
            "json: cannot unmarshal array into Go value of type v1.Artifacts"
        );
        assert_eq!(
            decode(br#"{"inputs":[{"buildOutput":"yes"}]}"#).unwrap_err(),
            "json: cannot unmarshal string into Go struct field Artifact.inputs.buildOutput of type bool"
        );
        assert!(decode(br#"{"inputs":{}}"#).is_err());
        assert!(decode(br#"{"inputs":[{"values":[{"digest":[]}]}]}"#).is_err());
    }
}
