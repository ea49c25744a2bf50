//! Step `when` expressions (spec §3.11): decoding `-when_expressions` and deciding whether the
//! step runs.
//!
//! CEL expressions are compiled and evaluated with the standard library only (no variables), as
//! upstream does with an empty cel-go environment; step-result references inside them have been
//! substituted before evaluation (see [`crate::substitute`]).

use crate::substitute::gojson::{self, Json};
use cel::extractors::This;
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;

/// One step when-expression, as the controller serialises `v1.WhenExpression`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WhenExpression {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub input: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operator: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cel: String,
}

/// Go `json.Unmarshal` semantics (case-insensitive names, unknown fields ignored, `null` ok).
impl<'de> Deserialize<'de> for WhenExpression {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Json::deserialize(deserializer)?;
        from_json(&json).map_err(serde::de::Error::custom)
    }
}

const FIELD_PLACE: &str = "Go struct field WhenExpression.";

fn from_json(json: &Json) -> Result<WhenExpression, String> {
    let mut expr = WhenExpression::default();
    let members = match json {
        Json::Null => return Ok(expr),
        Json::Object(members) => members,
        other => {
            return Err(gojson::type_error(other, "Go value", "v1.WhenExpression"));
        }
    };
    for (key, value) in members {
        if gojson::field_is(key, "input") {
            gojson::decode_string(value, &mut expr.input, &format!("{FIELD_PLACE}input"))?;
        } else if gojson::field_is(key, "operator") {
            gojson::decode_string(value, &mut expr.operator, &format!("{FIELD_PLACE}operator"))?;
        } else if gojson::field_is(key, "values") {
            expr.values = gojson::decode_string_list(value, &format!("{FIELD_PLACE}values"))?
                .unwrap_or_default();
        } else if gojson::field_is(key, "cel") {
            gojson::decode_string(value, &mut expr.cel, &format!("{FIELD_PLACE}cel"))?;
        }
    }
    Ok(expr)
}

/// Decodes the `-when_expressions` flag value (a JSON array; `null` is an empty list).
pub fn parse(json: &str) -> Result<Vec<WhenExpression>, String> {
    match gojson::parse(json)? {
        Json::Null => Ok(Vec::new()),
        Json::Array(items) => items.iter().map(from_json).collect(),
        other => Err(gojson::type_error(&other, "Go value", "v1.WhenExpressions")),
    }
}

impl WhenExpression {
    /// Operator check: `in` requires the input among the values; any other operator
    /// (`notin`, or even empty) requires it absent.
    fn operator_holds(&self) -> bool {
        let found = self.values.contains(&self.input);
        if self.operator == "in" { found } else { !found }
    }
}

/// Whether the step may run: every CEL expression evaluates to `true` (checked first, in
/// order, stopping at the first `false`) and every operator check holds.
pub fn allow_exec(exprs: &[WhenExpression]) -> Result<bool, String> {
    for expr in exprs.iter().filter(|e| !e.cel.is_empty()) {
        if !evaluate_cel(&expr.cel)? {
            return Ok(false);
        }
    }
    Ok(exprs.iter().all(WhenExpression::operator_holds))
}

/// Compiles and evaluates one CEL expression with the standard environment and no variables.
///
/// Uses cel's hand-written Pratt parser (with the standard macros) rather than its ANTLR one,
/// which alone would add about 4 MiB to the static binary.
pub fn evaluate_cel(source: &str) -> Result<bool, String> {
    let expression = cel::parser::PrattParser::new()
        .parse(source)
        .map_err(|e| e.to_string().trim_end().to_string())?;
    let mut context = cel::Context::default();
    context
        .add_function("matches", cel_matches)
        .map_err(|e| e.to_string())?;
    match cel::Value::resolve(&expression, &context) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(_) => Err(format!(
            "the CEL expression {source} is not evaluated to a boolean"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// CEL's `matches` (global and member form): RE2-like syntax, unanchored search.
fn cel_matches(
    This(subject): This<Arc<String>>,
    pattern: Arc<String>,
) -> Result<bool, cel::ExecutionError> {
    regex_lite::Regex::new(&pattern)
        .map(|re| re.is_match(&subject))
        .map_err(|e| {
            cel::ExecutionError::function_error(
                "matches",
                format!("'{pattern}' not a valid regex: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(input: &str, operator: &str, values: &[&str]) -> WhenExpression {
        WhenExpression {
            input: input.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            cel: String::new(),
        }
    }

    fn cel(expr: &str) -> WhenExpression {
        WhenExpression {
            cel: expr.into(),
            ..Default::default()
        }
    }

    // TestAllowExec
    #[test]
    fn in_operator_true() {
        assert!(allow_exec(&[when("foo", "in", &["foo", "bar"])]).unwrap());
    }

    #[test]
    fn notin_operator_false() {
        assert!(!allow_exec(&[when("foo", "notin", &["foo", "bar"])]).unwrap());
    }

    #[test]
    fn multiple_expressions_one_false() {
        let exprs = [
            when("foo", "in", &["foo", "bar"]),
            when("foo", "in", &["bar"]),
        ];
        assert!(!allow_exec(&exprs).unwrap());
    }

    #[test]
    fn multiple_expressions_all_true() {
        let exprs = [
            when("foo", "in", &["foo", "bar"]),
            when("foo", "notin", &["bar"]),
        ];
        assert!(allow_exec(&exprs).unwrap());
    }

    #[test]
    fn cel_true() {
        assert!(allow_exec(&[cel("'foo'=='foo'")]).unwrap());
    }

    #[test]
    fn cel_false() {
        assert!(!allow_exec(&[cel("'foo'!='foo'")]).unwrap());
    }

    #[test]
    fn cel_true_but_operator_false() {
        let exprs = [cel("'foo'=='foo'"), when("foo", "in", &["bar"])];
        assert!(!allow_exec(&exprs).unwrap());
    }

    #[test]
    fn cel_true_and_cel_false() {
        let exprs = [cel("'foo'=='foo'"), cel("'foo'!='foo'")];
        assert!(!allow_exec(&exprs).unwrap());
    }

    #[test]
    fn cel_not_boolean_is_error() {
        assert_eq!(
            allow_exec(&[cel("'foo'")]).unwrap_err(),
            "the CEL expression 'foo' is not evaluated to a boolean"
        );
    }

    #[test]
    fn cel_undeclared_reference_is_error() {
        assert!(allow_exec(&[cel("foo==foo")]).is_err());
    }

    #[test]
    fn cel_false_stops_before_a_later_error() {
        // Upstream returns at the first false CEL, never evaluating the next one.
        let exprs = [cel("1 > 2"), cel("nope")];
        assert!(!allow_exec(&exprs).unwrap());
    }

    #[test]
    fn cel_error_wins_over_operator_check() {
        let exprs = [when("foo", "in", &["bar"]), cel("'x'")];
        assert!(allow_exec(&exprs).is_err());
    }

    #[test]
    fn empty_operator_means_notin() {
        assert!(allow_exec(&[when("foo", "", &["bar"])]).unwrap());
        assert!(!allow_exec(&[when("foo", "IN", &["foo"])]).unwrap());
        assert!(allow_exec(&[]).unwrap());
    }

    #[test]
    fn cel_standard_library_like_cel_go() {
        for expr in [
            "'foo'=='foo'",
            "1 < 2 && true",
            "size('abc') == 3",
            "'a' in ['a','b']",
            "'abc'.startsWith('ab')",
            "'abc'.contains('b')",
            "'abc'.endsWith('bc')",
            "'abc'.matches('^a.c$')",
            "matches('v1.2', '^v[0-9]+\\\\.[0-9]+$')",
            "'héllo'.matches('^h.llo$')",
            "has({'a': 1}.a)",
            "1u < 2u && 1.5 > 1.0 && -1 < 0",
            "null == null",
            "b'abc' == b'abc'",
            "r'a\\b' == 'a\\\\b'",
            "'\\u00e9' == 'é'",
            "[1,2,3].exists(x, x == 2)",
            "[1,2,3].all(x, x > 0)",
            "[1,2,3].map(x, x * 2) == [2,4,6]",
            "{'a': 1}['a'] == 1",
            "int('12') == 12",
            "string(12) == '12'",
            "!false",
            "true ? true : false",
            "1 + 2 * 3 == 7",
            "'prod' != 'dev' || false",
        ] {
            assert_eq!(evaluate_cel(expr), Ok(true), "{expr}");
        }
        for expr in ["'a' in ['b']", "size([]) > 0", "false || 2 < 1"] {
            assert_eq!(evaluate_cel(expr), Ok(false), "{expr}");
        }
    }

    #[test]
    fn cel_syntax_errors_read_like_cel_go() {
        let err = evaluate_cel("(").unwrap_err();
        assert!(err.starts_with("ERROR: <input>:1:2: "), "{err}");
    }

    #[test]
    fn cel_known_differences_from_cel_go() {
        // cel-go rejects these at compile time (type check / no chrono); documented deviations.
        assert_eq!(evaluate_cel("1 == 'a'"), Ok(false));
        assert!(evaluate_cel("timestamp('2024-01-01T00:00:00Z') > timestamp(0)").is_err());
    }

    #[test]
    fn cel_errors_do_not_panic() {
        for expr in [
            "",
            "(",
            "1/0 == 1",
            "9223372036854775807 + 1 > 0",
            "[1][5] == 1",
            "{'a':1}['b'] == 1",
            "undefined_function() == 1",
            "int('x') == 1",
            "'abc'.matches('(') ",
        ] {
            assert!(evaluate_cel(expr).is_err(), "{expr}");
        }
    }

    #[test]
    fn parse_like_go_json_unmarshal() {
        let got = parse(
            r#"[{"input":"foo","operator":"in","values":["foo","bar"]},
                {"CEL":"'a'=='a'","extra":{"x":[1]}},
                null,
                {"Input":null,"VALUES":null,"operator":"notin","operator":"in"}]"#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                when("foo", "in", &["foo", "bar"]),
                cel("'a'=='a'"),
                WhenExpression::default(),
                when("", "in", &[]),
            ]
        );
        assert_eq!(parse("null").unwrap(), vec![]);
        assert_eq!(parse("[]").unwrap(), vec![]);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(parse("").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(
            parse(r#"[{"input":1}]"#).unwrap_err(),
            "json: cannot unmarshal number into Go struct field WhenExpression.input of type string"
        );
        assert_eq!(
            parse(r#"{"input":"x"}"#).unwrap_err(),
            "json: cannot unmarshal object into Go value of type v1.WhenExpressions"
        );
        assert!(parse(r#"[{"values":"x"}]"#).is_err());
        assert!(parse("[").is_err());
    }

    #[test]
    fn serializes_like_go_with_omitempty() {
        let json =
            serde_json::to_string(&[when("foo", "in", &["foo", "bar"]), cel("true")]).unwrap();
        assert_eq!(
            json,
            r#"[{"input":"foo","operator":"in","values":["foo","bar"]},{"cel":"true"}]"#
        );
        let back: Vec<WhenExpression> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, parse(&json).unwrap());
    }
}
