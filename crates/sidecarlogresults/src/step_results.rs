//! `-step-results`: the JSON map `{"step-<name>": ["<result>", …]}` the controller marshals for
//! every step that declares results (`{}` when none do).
//!
//! Decoded as Go's `json.Unmarshal` into `map[string][]string` decodes it: `null` (the whole
//! document or a step's list) means no results, a `null` name is `""`, a repeated step key
//! keeps its last list, anything else is Go's type error. Steps come back sorted by name, so
//! the output order is the same on every run.

use std::collections::BTreeMap;

use gocompat::json::{self, Kind};

/// Step container name → result names, in the order the flag lists them.
pub type StepResults = BTreeMap<String, Vec<String>>;

/// Decodes the flag's value; `Err` is Go's error text (`unexpected end of JSON input` for an
/// empty value).
pub fn decode(text: &str) -> Result<StepResults, String> {
    let node = json::parse(text.as_bytes())?;
    let mut out = StepResults::new();
    match &node.kind {
        Kind::Null => {}
        Kind::Object(members) => {
            for (step, value) in members {
                let names = json::decode_string_list(value, "Go value")?.unwrap_or_default();
                out.insert(step.clone(), names);
            }
        }
        other => {
            return Err(json::type_error(other, "Go value", "map[string][]string"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_go() {
        let got = decode(r#"{"step-b":["x","y"],"step-a":["z"],"step-c":null}"#).unwrap();
        let want: Vec<(&str, Vec<&str>)> = vec![
            ("step-a", vec!["z"]),
            ("step-b", vec!["x", "y"]),
            ("step-c", vec![]),
        ];
        let got: Vec<(&str, Vec<&str>)> = got
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(got, want);
        assert!(decode("{}").unwrap().is_empty());
        assert!(decode("null").unwrap().is_empty());
        assert_eq!(decode(r#"{"s":["a"],"s":["b"]}"#).unwrap()["s"], ["b"]);
        assert_eq!(decode(r#"{"s":[null]}"#).unwrap()["s"], [""]);
    }

    #[test]
    fn errors_are_go_texts() {
        assert_eq!(decode("").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(
            decode("[]").unwrap_err(),
            "json: cannot unmarshal array into Go value of type map[string][]string"
        );
        assert_eq!(
            decode(r#"{"s":"a"}"#).unwrap_err(),
            "json: cannot unmarshal string into Go value of type []string"
        );
        assert_eq!(
            decode(r#"{"s":[1]}"#).unwrap_err(),
            "json: cannot unmarshal number into Go value of type string"
        );
        assert!(decode("{").unwrap_err().contains("unexpected end"));
    }
}
