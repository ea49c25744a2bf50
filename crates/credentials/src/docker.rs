//! Docker credentials: `-basic-docker`, `-docker-config`, `-docker-cfg` → `.docker/config.json`.
//!
//! Output bytes follow upstream's `json.Marshal` of `{"auths": map[registry]entry}`: registry
//! keys sorted, entry fields `username,password,auth,email` with `omitempty` on all but `auth`,
//! unknown fields dropped, HTML-safe escaping, no trailing newline.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;

use crate::fsutil;
use gocompat::json::{Kind, Node, field_is};

/// One registry entry (Go struct `entry`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerEntry {
    pub username: String,
    pub password: String,
    pub auth: String,
    pub email: String,
}

impl DockerEntry {
    /// The entry a `-basic-docker` flag produces.
    pub fn basic(username: &str, password: &str) -> Self {
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        DockerEntry {
            username: username.to_string(),
            password: password.to_string(),
            auth,
            email: "not@val.id".to_string(),
        }
    }

    fn push_json(&self, out: &mut String) {
        out.push('{');
        if !self.username.is_empty() {
            out.push_str("\"username\":");
            gocompat::json::push_str(out, &self.username);
            out.push(',');
        }
        if !self.password.is_empty() {
            out.push_str("\"password\":");
            gocompat::json::push_str(out, &self.password);
            out.push(',');
        }
        out.push_str("\"auth\":");
        gocompat::json::push_str(out, &self.auth);
        if !self.email.is_empty() {
            out.push_str(",\"email\":");
            gocompat::json::push_str(out, &self.email);
        }
        out.push('}');
    }
}

/// Serialises the merged map exactly like upstream's `json.Marshal(configFile{…})`.
pub fn config_json(auths: &BTreeMap<String, DockerEntry>) -> String {
    let mut out = String::from("{\"auths\":{");
    for (i, (registry, entry)) in auths.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        gocompat::json::push_str(&mut out, registry);
        out.push(':');
        entry.push_json(&mut out);
    }
    out.push_str("}}");
    out
}

fn type_error(kind: &Kind<'_>, target: &str) -> String {
    gocompat::json::type_error(kind, "Go value", target)
}

/// Go's scanner on a secret's bytes. A syntax error names the byte offset, never the byte:
/// the input holds registry passwords.
fn parse(data: &[u8]) -> Result<Node<'_>, String> {
    gocompat::json::parse(data).map_err(|e| match e.byte {
        Some(_) if e.offset < data.len() => {
            format!("invalid JSON at byte offset {}: {}", e.offset, e.context)
        }
        _ => "unexpected end of JSON input".to_string(),
    })
}

/// Decodes one entry object into `e` the way `json.Unmarshal` fills a struct: keys in order,
/// case-insensitive names, `null` leaves a field alone, unknown keys ignored.
fn decode_entry(v: &Node<'_>, e: &mut DockerEntry, first_err: &mut Option<String>) {
    let members = match &v.kind {
        Kind::Null => return,
        Kind::Object(m) => m,
        other => {
            first_err.get_or_insert_with(|| type_error(other, "dockercreds.entry"));
            return;
        }
    };
    for (key, value) in members {
        let field = if field_is(key, "username") {
            &mut e.username
        } else if field_is(key, "password") {
            &mut e.password
        } else if field_is(key, "auth") {
            &mut e.auth
        } else if field_is(key, "email") {
            &mut e.email
        } else {
            continue;
        };
        match &value.kind {
            Kind::Null => {}
            Kind::Str(s) => *field = s.clone(),
            other => {
                first_err.get_or_insert_with(|| {
                    format!(
                        "json: cannot unmarshal {} into Go struct field entry.{} of type string",
                        other.go_name(),
                        key
                    )
                });
            }
        }
    }
}

/// Decodes a JSON object into a registry map (Go `map[string]entry`): a duplicate registry key
/// starts again from a zero entry; `null` clears nothing.
fn decode_registry_map(
    v: &Node<'_>,
    into: &mut BTreeMap<String, DockerEntry>,
    first_err: &mut Option<String>,
) {
    match &v.kind {
        Kind::Null => {}
        Kind::Object(members) => {
            for (registry, value) in members {
                let mut e = DockerEntry::default();
                decode_entry(value, &mut e, first_err);
                into.insert(registry.clone(), e);
            }
        }
        other => {
            first_err.get_or_insert_with(|| type_error(other, "map[string]dockercreds.entry"));
        }
    }
}

/// `.dockercfg`: a flat `{registry: entry}` object.
pub fn auths_from_dockercfg(path: &Path) -> Result<BTreeMap<String, DockerEntry>, String> {
    let data = fsutil::read_secret_bytes(path)?;
    parse_dockercfg(&data).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`auths_from_dockercfg`] on the file's bytes; errors name no file.
pub fn parse_dockercfg(data: &[u8]) -> Result<BTreeMap<String, DockerEntry>, String> {
    let v = parse(data)?;
    let mut m = BTreeMap::new();
    let mut err = None;
    decode_registry_map(&v, &mut m, &mut err);
    match err {
        Some(e) => Err(e),
        None => Ok(m),
    }
}

/// `.dockerconfigjson`: `{"auths": {registry: entry}}`; other top-level keys are dropped.
pub fn auths_from_dockerconfigjson(path: &Path) -> Result<BTreeMap<String, DockerEntry>, String> {
    let data = fsutil::read_secret_bytes(path)?;
    parse_dockerconfigjson(&data).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`auths_from_dockerconfigjson`] on the file's bytes; errors name no file.
pub fn parse_dockerconfigjson(data: &[u8]) -> Result<BTreeMap<String, DockerEntry>, String> {
    let v = parse(data)?;
    let mut auths: Option<BTreeMap<String, DockerEntry>> = None;
    let mut err = None;
    match &v.kind {
        Kind::Null => {}
        Kind::Object(members) => {
            for (key, value) in members {
                if !field_is(key, "auths") {
                    continue;
                }
                if matches!(value.kind, Kind::Null) {
                    // `null` sets a Go map field to nil.
                    auths = None;
                } else {
                    // A repeated "auths" key adds to the same map.
                    decode_registry_map(value, auths.get_or_insert_with(BTreeMap::new), &mut err);
                }
            }
        }
        other => {
            err = Some(type_error(other, "dockercreds.configFile"));
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(auths.unwrap_or_default()),
    }
}

/// The docker part of the write phase; `secrets` is the secrets root.
pub fn write(
    dir: &Path,
    secrets: &Path,
    docker_cfg: &[String],
    docker_config: &[String],
    basic: &BTreeMap<String, DockerEntry>,
) -> Result<(), String> {
    let mut auth = BTreeMap::new();
    for secret in docker_cfg {
        auth.extend(auths_from_dockercfg(
            &secrets.join(secret).join(".dockercfg"),
        )?);
    }
    for secret in docker_config {
        auth.extend(auths_from_dockerconfigjson(
            &secrets.join(secret).join(".dockerconfigjson"),
        )?);
    }
    auth.extend(basic.iter().map(|(k, v)| (k.clone(), v.clone())));
    if auth.is_empty() {
        return Ok(());
    }
    let docker_dir = dir.join(".docker");
    fsutil::ensure_real_dir(&docker_dir, 0o777)?;
    fsutil::write_file_replace(
        &docker_dir.join("config.json"),
        config_json(&auth).as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_entry_bytes() {
        let mut m = BTreeMap::new();
        m.insert(
            "https://us.gcr.io".to_string(),
            DockerEntry::basic("bar", "baz"),
        );
        assert_eq!(
            config_json(&m),
            r#"{"auths":{"https://us.gcr.io":{"username":"bar","password":"baz","auth":"YmFyOmJheg==","email":"not@val.id"}}}"#
        );
    }

    fn json_file(content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, content).unwrap();
        (d, p)
    }

    #[test]
    fn configjson_decoding_rules() {
        let (_d, p) = json_file(
            r#"{"credsStore":"x","auths":{"a":{"AUTH":"1","identitytoken":"t","email":null},"a":{"auth":"2"},"b":null,"c":{"Username":"u<"}},"Auths":{"d":{}}}"#,
        );
        let m = auths_from_dockerconfigjson(&p).unwrap();
        assert_eq!(
            config_json(&m),
            r#"{"auths":{"a":{"auth":"2"},"b":{"auth":""},"c":{"username":"u\u003c","auth":""},"d":{"auth":""}}}"#
        );
        let (_d, p) = json_file(r#"{"auths":{"a":{}},"auths":null}"#);
        assert!(auths_from_dockerconfigjson(&p).unwrap().is_empty());
        let (_d, p) = json_file("null");
        assert!(auths_from_dockerconfigjson(&p).unwrap().is_empty());
    }

    #[test]
    fn type_errors_abort() {
        for bad in [
            r#"[]"#,
            r#"{"auths":[]}"#,
            r#"{"auths":{"a":"s"}}"#,
            r#"{"auths":{"a":{"auth":1}}}"#,
            "{",
        ] {
            let (_d, p) = json_file(bad);
            assert!(auths_from_dockerconfigjson(&p).is_err(), "{bad}");
        }
        let (_d, p) = json_file(r#"{"a":{"auth":true}}"#);
        assert!(auths_from_dockercfg(&p).is_err());
        let (_d, p) = json_file(r#"{"auths":{"x":{"auth":"y"}}}"#);
        // A .dockercfg is flat: "auths" is just a registry whose entry fields are unknown.
        assert_eq!(
            config_json(&auths_from_dockercfg(&p).unwrap()),
            r#"{"auths":{"auths":{"auth":""}}}"#
        );
    }

    #[test]
    fn syntax_errors_never_quote_input() {
        for (doc, want) in [
            (
                &b"{\"auth\": s3cr3tcanary}"[..],
                "invalid JSON at byte offset 9: looking for beginning of value",
            ),
            (
                b"{\"a\":\"s3cr3t\x01\"}",
                "invalid JSON at byte offset 12: in string literal",
            ),
            (b"{\"a\":tru", "unexpected end of JSON input"),
            (b"", "unexpected end of JSON input"),
        ] {
            assert_eq!(parse(doc).err().as_deref(), Some(want));
        }
        let deep = format!("{}{}", "[".repeat(1 << 20), "]".repeat(1 << 20));
        assert!(parse(deep.as_bytes()).is_err());
    }
}
