//! `json.Unmarshal` into upstream's two Go types: `[]*image.Resource` (`-images`) and
//! go-containerregistry's `v1.IndexManifest` (`index.json`).
//!
//! Whether a document is accepted, and the error text when it is not, decide the exit code and
//! the log line, so Go's decoding rules are followed: keys match field names case-insensitively,
//! unknown keys are ignored, `null` leaves strings and numbers alone and clears slices and
//! pointers, a repeated key decodes again into the same field (slices reuse their elements),
//! a type mismatch is remembered and decoding goes on (the first one is reported, as
//! `json: cannot unmarshal <kind> into Go struct field <Struct>.<path> of type <type>`), while
//! a `v1.Hash` that fails its own `UnmarshalJSON` stops decoding at once.

use crate::hash::Hash;
use gocompat::json::{Kind, Node, field_is};

/// The Go types the two documents are decoded into.
pub enum Ty {
    /// A string type, by its Go name (`string`, `types.MediaType`).
    Str(&'static str),
    Int64,
    Uint8,
    /// `[]byte`: base64 text or an array of numbers.
    Bytes,
    /// `v1.Hash`, a `json.Unmarshaler`.
    Hash,
    /// A slice type, by its Go name, and its element type.
    Slice(&'static str, &'static Ty),
    /// `map[string]string`.
    StrMap,
    Struct(&'static StructTy),
    /// A pointer to a struct.
    Ptr(&'static StructTy),
}

/// A Go struct: its qualified name (`v1.Descriptor`) and JSON fields.
pub struct StructTy {
    pub name: &'static str,
    pub fields: &'static [(&'static str, Ty)],
}

impl Ty {
    /// The name Go prints in type errors.
    fn go_name(&self) -> &'static str {
        match self {
            Ty::Str(name) | Ty::Slice(name, _) => name,
            Ty::Int64 => "int64",
            Ty::Uint8 => "uint8",
            Ty::Bytes => "[]uint8",
            Ty::Hash => "v1.Hash",
            Ty::StrMap => "map[string]string",
            Ty::Struct(st) | Ty::Ptr(st) => st.name,
        }
    }
}

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    /// A byte of a `[]byte`.
    Byte(u8),
    Hash(Hash),
    /// A slice: `items[..len]` is its content; items past `len` are Go's spare capacity,
    /// which a later, longer array for the same key decodes into again.
    Slice {
        items: Vec<Val>,
        len: usize,
    },
    /// A map (its contents are never needed).
    Map,
    Struct(Vec<Val>),
    Ptr(Option<Box<Val>>),
}

impl Val {
    /// Go's zero value of `ty`.
    pub fn zero(ty: &Ty) -> Val {
        match ty {
            Ty::Str(_) => Val::Str(String::new()),
            Ty::Int64 => Val::Int(0),
            Ty::Uint8 => Val::Byte(0),
            Ty::Hash => Val::Hash(Hash::default()),
            Ty::Bytes | Ty::Slice(..) => Val::Slice {
                items: Vec::new(),
                len: 0,
            },
            Ty::StrMap => Val::Map,
            Ty::Struct(st) => Val::Struct(st.fields.iter().map(|(_, t)| Val::zero(t)).collect()),
            Ty::Ptr(_) => Val::Ptr(None),
        }
    }

    /// The slice's elements (empty for anything else).
    pub fn elements(&self) -> &[Val] {
        match self {
            Val::Slice { items, len } => &items[..(*len).min(items.len())],
            _ => &[],
        }
    }

    /// Field `i` of a struct, or of the struct a non-nil pointer points to.
    pub fn field(&self, i: usize) -> Option<&Val> {
        match self {
            Val::Struct(fields) => fields.get(i),
            Val::Ptr(Some(inner)) => inner.field(i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Val::Str(s) => s,
            _ => "",
        }
    }
}

/// One `json.Unmarshal` call: the first remembered error and where the decoder is.
#[derive(Default)]
struct Decoder {
    saved: Option<String>,
    /// Innermost struct whose field is being decoded (short name) and the field path.
    context: Option<&'static str>,
    path: Vec<&'static str>,
}

/// Decodes `node` into a new value of `ty`; `Err` is the text `json.Unmarshal` returns.
pub fn decode(node: &Node<'_>, ty: &Ty) -> Result<Val, String> {
    let mut decoder = Decoder::default();
    let mut val = Val::zero(ty);
    decoder.value(node, ty, &mut val)?;
    match decoder.saved {
        Some(err) => Err(err),
        None => Ok(val),
    }
}

impl Decoder {
    fn save(&mut self, err: String) {
        self.saved.get_or_insert(err);
    }

    fn type_error(&mut self, found: &str, ty: &Ty) {
        let go_type = ty.go_name();
        let text = match self.context {
            Some(st) => format!(
                "json: cannot unmarshal {found} into Go struct field {st}.{} of type {go_type}",
                self.path.join(".")
            ),
            None => format!("json: cannot unmarshal {found} into Go value of type {go_type}"),
        };
        self.save(text);
    }

    /// Decodes into `val`; `Err` aborts the whole decode (an unmarshaler failed).
    fn value(&mut self, node: &Node<'_>, ty: &Ty, val: &mut Val) -> Result<(), String> {
        if let Ty::Hash = ty {
            *val = Val::Hash(Hash::from_json(node.raw)?);
            return Ok(());
        }
        match &node.kind {
            Kind::Null => match ty {
                Ty::Bytes | Ty::Slice(..) | Ty::Ptr(_) => *val = Val::zero(ty),
                _ => {}
            },
            Kind::Bool(_) => self.mismatch("bool", ty, val),
            Kind::Number(text) => match ty {
                Ty::Int64 => match text.parse::<i64>() {
                    Ok(n) => *val = Val::Int(n),
                    Err(_) => self.type_error(&format!("number {text}"), ty),
                },
                Ty::Uint8 => match text.parse::<u8>() {
                    Ok(n) => *val = Val::Byte(n),
                    Err(_) => self.type_error(&format!("number {text}"), ty),
                },
                _ => self.mismatch("number", ty, val),
            },
            Kind::Str(s) => match ty {
                Ty::Str(_) => *val = Val::Str(s.clone()),
                Ty::Bytes => match gocompat::base64::decode_std(s.as_bytes()) {
                    Ok(bytes) => {
                        *val = Val::Slice {
                            len: bytes.len(),
                            items: bytes.into_iter().map(Val::Byte).collect(),
                        }
                    }
                    Err(err) => self.save(err.to_string()),
                },
                _ => self.mismatch("string", ty, val),
            },
            Kind::Array(items) => match ty {
                Ty::Slice(_, elem) => self.array(items, elem, val)?,
                Ty::Bytes => self.array(items, &Ty::Uint8, val)?,
                _ => self.mismatch("array", ty, val),
            },
            Kind::Object(members) => match ty {
                Ty::Struct(st) => self.object(members, st, val)?,
                Ty::Ptr(st) => {
                    let inner = pointee(st, val);
                    self.object(members, st, inner)?;
                }
                Ty::StrMap => {
                    for (_, member) in members {
                        let mut scratch = Val::zero(&Ty::Str("string"));
                        self.value(member, &Ty::Str("string"), &mut scratch)?;
                    }
                    *val = Val::Map;
                }
                _ => self.mismatch("object", ty, val),
            },
        }
        Ok(())
    }

    /// A value of the wrong kind. Go allocates a nil pointer before noticing.
    fn mismatch(&mut self, found: &str, ty: &Ty, val: &mut Val) {
        if let Ty::Ptr(st) = ty {
            pointee(st, val);
        }
        self.type_error(found, ty);
    }

    fn array(&mut self, nodes: &[Node<'_>], elem: &Ty, val: &mut Val) -> Result<(), String> {
        if !matches!(val, Val::Slice { .. }) {
            *val = Val::Slice {
                items: Vec::new(),
                len: 0,
            };
        }
        let Val::Slice { items, len } = val else {
            return Ok(());
        };
        if nodes.is_empty() {
            // `[]` makes a new empty slice: the old elements are gone.
            items.clear();
            *len = 0;
            return Ok(());
        }
        for (i, node) in nodes.iter().enumerate() {
            if i >= items.len() {
                items.push(Val::zero(elem));
            }
            *len = i + 1;
            self.value(node, elem, &mut items[i])?;
        }
        Ok(())
    }

    fn object(
        &mut self,
        members: &[(String, Node<'_>)],
        st: &'static StructTy,
        val: &mut Val,
    ) -> Result<(), String> {
        if !matches!(val, Val::Struct(_)) {
            *val = Val::zero(&Ty::Struct(st));
        }
        let Val::Struct(fields) = val else {
            return Ok(());
        };
        let short = st.name.rsplit('.').next().unwrap_or(st.name);
        for (key, node) in members {
            let Some(i) = st.fields.iter().position(|(name, _)| field_is(key, name)) else {
                continue;
            };
            let (name, ty) = &st.fields[i];
            let (outer, depth) = (self.context, self.path.len());
            self.context = Some(short);
            self.path.push(name);
            let result = self.value(node, ty, &mut fields[i]);
            self.context = outer;
            self.path.truncate(depth);
            result?;
        }
        Ok(())
    }
}

/// The struct a pointer points to, allocated if nil.
fn pointee<'v>(st: &'static StructTy, val: &'v mut Val) -> &'v mut Val {
    if !matches!(val, Val::Ptr(Some(_))) {
        *val = Val::Ptr(Some(Box::new(Val::zero(&Ty::Struct(st)))));
    }
    match val {
        Val::Ptr(Some(inner)) => inner,
        other => other,
    }
}

/// `image.Resource` (upstream's `-images` elements); `OutputImageDir` has no JSON tag.
pub static RESOURCE: StructTy = StructTy {
    name: "image.Resource",
    fields: &[
        ("name", Ty::Str("string")),
        ("type", Ty::Str("string")),
        ("url", Ty::Str("string")),
        ("digest", Ty::Str("string")),
        ("OutputImageDir", Ty::Str("string")),
    ],
};

/// `-images`: `[]*image.Resource`.
pub static IMAGES: Ty = Ty::Slice("[]*image.Resource", &Ty::Ptr(&RESOURCE));

static PLATFORM: StructTy = StructTy {
    name: "v1.Platform",
    fields: &[
        ("architecture", Ty::Str("string")),
        ("os", Ty::Str("string")),
        ("os.version", Ty::Str("string")),
        ("os.features", Ty::Slice("[]string", &Ty::Str("string"))),
        ("variant", Ty::Str("string")),
        ("features", Ty::Slice("[]string", &Ty::Str("string"))),
    ],
};

static DESCRIPTOR: StructTy = StructTy {
    name: "v1.Descriptor",
    fields: &[
        ("mediaType", Ty::Str("types.MediaType")),
        ("size", Ty::Int64),
        ("digest", Ty::Hash),
        ("data", Ty::Bytes),
        ("urls", Ty::Slice("[]string", &Ty::Str("string"))),
        ("annotations", Ty::StrMap),
        ("platform", Ty::Ptr(&PLATFORM)),
    ],
};

/// Index of `digest` in [`DESCRIPTOR`].
const DESCRIPTOR_DIGEST: usize = 2;

static INDEX_MANIFEST: StructTy = StructTy {
    name: "v1.IndexManifest",
    fields: &[
        ("schemaVersion", Ty::Int64),
        ("mediaType", Ty::Str("types.MediaType")),
        (
            "manifests",
            Ty::Slice("[]v1.Descriptor", &Ty::Struct(&DESCRIPTOR)),
        ),
        ("annotations", Ty::StrMap),
    ],
};

/// Index of `manifests` in [`INDEX_MANIFEST`].
const INDEX_MANIFESTS: usize = 2;

/// `index.json`: `v1.IndexManifest`.
pub static INDEX: Ty = Ty::Struct(&INDEX_MANIFEST);

/// One element of `-images`, as far as the exporter uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub url: String,
    pub output_image_dir: String,
}

/// Decodes `-images`; a `null` element is `None` (upstream dereferences it and panics).
pub fn images(node: &Node<'_>) -> Result<Vec<Option<Resource>>, String> {
    let val = decode(node, &IMAGES)?;
    Ok(val
        .elements()
        .iter()
        .map(|element| match element {
            Val::Ptr(Some(_)) => Some(Resource {
                name: text_field(element, 0),
                url: text_field(element, 2),
                output_image_dir: text_field(element, 4),
            }),
            _ => None,
        })
        .collect())
}

fn text_field(val: &Val, i: usize) -> String {
    val.field(i)
        .map(Val::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Decodes `index.json` into its manifests' digests (zero for a manifest without one).
pub fn manifest_digests(node: &Node<'_>) -> Result<Vec<Hash>, String> {
    let val = decode(node, &INDEX)?;
    let manifests = val.field(INDEX_MANIFESTS).map(Val::elements).unwrap_or(&[]);
    Ok(manifests
        .iter()
        .map(|m| match m.field(DESCRIPTOR_DIGEST) {
            Some(Val::Hash(h)) => h.clone(),
            _ => Hash::default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gocompat::json::parse;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    fn index(doc: &str) -> Result<Vec<String>, String> {
        let node = parse(doc.as_bytes())?;
        manifest_digests(&node).map(|v| v.iter().map(Hash::to_string).collect())
    }

    fn images_of(doc: &str) -> Result<Vec<Option<Resource>>, String> {
        images(&parse(doc.as_bytes())?)
    }

    #[test]
    fn index_type_errors_match_go() {
        let cases = [
            (
                "[]",
                "json: cannot unmarshal array into Go value of type v1.IndexManifest",
            ),
            (
                "\"x\"",
                "json: cannot unmarshal string into Go value of type v1.IndexManifest",
            ),
            (
                "5",
                "json: cannot unmarshal number into Go value of type v1.IndexManifest",
            ),
            (
                "true",
                "json: cannot unmarshal bool into Go value of type v1.IndexManifest",
            ),
            (
                r#"{"schemaVersion":1.5}"#,
                "json: cannot unmarshal number 1.5 into Go struct field IndexManifest.schemaVersion of type int64",
            ),
            (
                r#"{"schemaVersion":99999999999999999999}"#,
                "json: cannot unmarshal number 99999999999999999999 into Go struct field IndexManifest.schemaVersion of type int64",
            ),
            (
                r#"{"mediaType":5}"#,
                "json: cannot unmarshal number into Go struct field IndexManifest.mediaType of type types.MediaType",
            ),
            (
                r#"{"manifests":{}}"#,
                "json: cannot unmarshal object into Go struct field IndexManifest.manifests of type []v1.Descriptor",
            ),
            (
                r#"{"manifests":["x"]}"#,
                "json: cannot unmarshal string into Go struct field IndexManifest.manifests of type v1.Descriptor",
            ),
            (
                r#"{"manifests":[{"size":"1"}]}"#,
                "json: cannot unmarshal string into Go struct field Descriptor.manifests.size of type int64",
            ),
            (
                r#"{"manifests":[{"annotations":{"a":1}}]}"#,
                "json: cannot unmarshal number into Go struct field Descriptor.manifests.annotations of type string",
            ),
            (
                r#"{"manifests":[{"data":"!!"}]}"#,
                "illegal base64 data at input byte 0",
            ),
            (
                r#"{"manifests":[{"data":[256]}]}"#,
                "json: cannot unmarshal number 256 into Go struct field Descriptor.manifests.data of type uint8",
            ),
            (
                r#"{"manifests":[{"data":["a"]}]}"#,
                "json: cannot unmarshal string into Go struct field Descriptor.manifests.data of type uint8",
            ),
            (
                r#"{"manifests":[{"urls":[1]}]}"#,
                "json: cannot unmarshal number into Go struct field Descriptor.manifests.urls of type string",
            ),
            (
                r#"{"manifests":[{"platform":"x"}]}"#,
                "json: cannot unmarshal string into Go struct field Descriptor.manifests.platform of type v1.Platform",
            ),
            (
                r#"{"manifests":[{"platform":{"os.features":[1]}}]}"#,
                "json: cannot unmarshal number into Go struct field Platform.manifests.platform.os.features of type string",
            ),
            (
                r#"{"annotations":[]}"#,
                "json: cannot unmarshal array into Go struct field IndexManifest.annotations of type map[string]string",
            ),
            // A Hash error stops decoding and wins over an earlier type error.
            (
                r#"{"manifests":[{"size":"x"},{"digest":"bad"}]}"#,
                "cannot parse hash: \"bad\"",
            ),
            (r#"{"manifests":[{"digest":null}]}"#, "invalid syntax"),
            (r#"{"manifests":[{"digest":{}}]}"#, "invalid syntax"),
            (
                r#"{"manifests":[{"digest":"sha256:abc"}]}"#,
                "wrong number of hex digits for sha256: abc",
            ),
        ];
        for (doc, want) in cases {
            assert_eq!(index(doc).unwrap_err(), want, "{doc}");
        }
    }

    #[test]
    fn index_values_follow_go_rules() {
        let one = format!("sha256:{H1}");
        assert_eq!(index("null").unwrap(), Vec::<String>::new());
        assert_eq!(
            index(r#"{"manifests":null}"#).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(index(r#"{"manifests":[null]}"#).unwrap(), [":"]);
        assert_eq!(index(r#"{"manifests":[{}]}"#).unwrap(), [":"]);
        assert_eq!(
            index(&format!(r#"{{"MANIFESTS":[{{"DIGEST":"{one}"}}]}}"#)).unwrap(),
            std::slice::from_ref(&one)
        );
        // A repeated key decodes into the same elements again.
        assert_eq!(
            index(&format!(
                r#"{{"manifests":[{{"digest":"{one}"}}],"manifests":[{{}}]}}"#
            ))
            .unwrap(),
            std::slice::from_ref(&one)
        );
        assert_eq!(
            index(&format!(
                r#"{{"manifests":[{{}},{{"digest":"{one}"}}],"manifests":[{{}}],"manifests":[{{}},{{}}]}}"#
            ))
            .unwrap(),
            [":".to_string(), one.clone()]
        );
        // `[]` and `null` drop the old elements.
        assert_eq!(
            index(&format!(
                r#"{{"manifests":[{{"digest":"{one}"}}],"manifests":[],"manifests":[{{}}]}}"#
            ))
            .unwrap(),
            [":"]
        );
        // Unknown keys, any schemaVersion and a valid []byte are fine.
        assert_eq!(
            index(&format!(
                r#"{{"x":[1,{{}}],"schemaVersion":-3,"manifests":[{{"digest":"{one}","data":"YQ==","size":7,"platform":{{"os":"linux"}},"platform":null}}]}}"#
            ))
            .unwrap(),
            [one]
        );
    }

    #[test]
    fn images_decode_like_go() {
        assert_eq!(images_of("null").unwrap(), vec![]);
        assert_eq!(images_of("[]").unwrap(), vec![]);
        let got = images_of(
            r#"[{"NAME":"x","Url":"y","outputimagedir":"/d","extra":1},null,{"name":null,"name":"q"},{"name":"a\ud800b"}]"#,
        )
        .unwrap();
        let res = |name: &str, url: &str, dir: &str| {
            Some(Resource {
                name: name.into(),
                url: url.into(),
                output_image_dir: dir.into(),
            })
        };
        assert_eq!(
            got,
            vec![
                res("x", "y", "/d"),
                None,
                res("q", "", ""),
                res("a\u{fffd}b", "", "")
            ]
        );
        for (doc, want) in [
            (
                "{}",
                "json: cannot unmarshal object into Go value of type []*image.Resource",
            ),
            (
                "[1]",
                "json: cannot unmarshal number into Go value of type image.Resource",
            ),
            (
                "[\"x\"]",
                "json: cannot unmarshal string into Go value of type image.Resource",
            ),
            (
                "[[1]]",
                "json: cannot unmarshal array into Go value of type image.Resource",
            ),
            (
                r#"[{"name":1}]"#,
                "json: cannot unmarshal number into Go struct field Resource.name of type string",
            ),
            (
                r#"[{"name":"a","OutputImageDir":5}]"#,
                "json: cannot unmarshal number into Go struct field Resource.OutputImageDir of type string",
            ),
            (
                r#"[{"type":5,"url":true}]"#,
                "json: cannot unmarshal number into Go struct field Resource.type of type string",
            ),
        ] {
            assert_eq!(images_of(doc).unwrap_err(), want, "{doc}");
        }
    }

    #[test]
    fn key_folding() {
        assert!(field_is("OUTPUTIMAGEDIR", "OutputImageDir"));
        assert!(field_is("\u{212a}ey", "key"));
        assert!(field_is("ſize", "size"));
        assert!(field_is("dıgest", "digest"));
        assert!(!field_is("names", "name"));
        assert!(!field_is("nam", "name"));
    }
}
