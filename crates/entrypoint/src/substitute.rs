//! Runtime substitutions done just before the step's command runs (docs/contract.md §3.13).
//!
//! Some references can only be resolved inside the pod, once earlier steps have finished:
//! `$(steps.<step>.results.<name>…)` (a file earlier steps wrote under `/tekton/steps`) and
//! `$(steps.<step>.inputs|outputs.<name>)` (that step's `provenance.json`). They are replaced in
//! the child's environment, the when-expressions and the command (or the script file it runs).
//!
//! Matching follows upstream's regular expressions exactly but is done by hand (a regex engine
//! would cost more binary size than the whole module): see [`step_result_refs`] and
//! [`artifact_refs`]. Every failure is returned, never a panic; the caller only logs it.

use crate::when::WhenExpression;
use gocompat::json::{self as gojson, Kind, Node};
use std::collections::BTreeMap;
use std::io::Write;
use stepkit_layout::Layout;

/// The child's environment, in order.
pub type Env = Vec<(String, String)>;

// ---------------------------------------------------------------------------------------------
// Step results
// ---------------------------------------------------------------------------------------------

const STEPS_PREFIX: &str = "$(steps.";
const RESULTS_INFIX: &str = ".results.";

/// All non-overlapping matches of upstream's `\$\(steps\..*?\.results\..*?\)` in `s`, leftmost
/// first. `.` does not match a newline, and both lazy groups take the shortest text that
/// lets the rest of the pattern match.
pub fn step_result_refs(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(offset) = s[pos..].find(STEPS_PREFIX) {
        let start = pos + offset;
        match step_result_ref_end(bytes, start + STEPS_PREFIX.len()) {
            Ok(end) => {
                found.push(&s[start..end]);
                pos = end;
            }
            // Every start before `stop` would search a subset of the same text: skip them.
            Err(stop) => pos = stop.max(start + 1),
        }
    }
    found
}

/// End (exclusive) of a step-result reference whose `$(steps.` prefix ends at `body`, or
/// where the search gave up (the next newline, or the end).
fn step_result_ref_end(bytes: &[u8], body: usize) -> Result<usize, usize> {
    let line_end = bytes[body..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| body + i);
    let line = &bytes[..line_end];
    // The shortest step part is the first `.results.`; a later one cannot find a `)` that
    // this one did not, since `.` stops at the same newline.
    let infix = body + find_bytes(&line[body..], RESULTS_INFIX.as_bytes()).ok_or(line_end)?;
    let tail = infix + RESULTS_INFIX.len();
    match line[tail..].iter().position(|&b| b == b')') {
        Some(i) => Ok(tail + i + 1),
        None => Err(line_end),
    }
}

/// Which part of a result a reference selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `steps.s.results.r`
    Whole,
    /// `steps.s.results.r[N]`
    Index(usize),
    /// `steps.s.results.r[*]`
    AllElements,
    /// `steps.s.results.r.key`
    Key(String),
}

/// A parsed `steps.<step>.results.<name>…` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResultRef {
    pub step: String,
    pub result: String,
    pub selector: Selector,
}

const STEP_RESULT_FORMAT: &str = "\"steps.<stepName>.results.<resultName>\"";
const STEP_OBJECT_FORMAT: &str =
    "\"steps.<stepName>.results.<objectResultName>.<individualAttribute>\"";

/// Parses the inside of `$(…)` the way upstream's `resultref.ParseStepExpression` does.
pub fn parse_step_expression(expr: &str) -> Result<StepResultRef, String> {
    let parts: Vec<&str> = expr.split('.').collect();
    if parts.len() < 4 || parts[0] != "steps" || parts[2] != "results" {
        return Err(format!(
            "must be one of the form 1). {STEP_RESULT_FORMAT}; 2). {STEP_OBJECT_FORMAT}"
        ));
    }
    match parts.len() {
        4 => {
            let (result, index) = split_array_index(parts[3]);
            let selector = match index {
                None => Selector::Whole,
                Some("*") => Selector::AllElements,
                Some(digits) => Selector::Index(go_atoi_index(digits)),
            };
            Ok(StepResultRef {
                step: parts[1].to_string(),
                result,
                selector,
            })
        }
        5 => Ok(StepResultRef {
            step: parts[1].to_string(),
            result: parts[3].to_string(),
            selector: Selector::Key(parts[4].to_string()),
        }),
        _ => Err(format!(
            "must be one of the form 1). \"tasks.<taskName>.results.<resultName>\"; \
             2). \"tasks.<taskName>.results.<objectResultName>.<individualAttribute>\"; \
             3). {STEP_RESULT_FORMAT}; 4). {STEP_OBJECT_FORMAT}"
        )),
    }
}

/// Upstream's `ParseResultName`: the first `[digits*]`-shaped index (pattern
/// `\[([0-9])*\*?\]`) gives the index text; every such index is removed from the name.
/// An empty index (`[]`) counts as no index.
fn split_array_index(name: &str) -> (String, Option<&str>) {
    let mut stripped = String::with_capacity(name.len());
    let mut first_index = None;
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        stripped.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let star = usize::from(after[digits..].starts_with('*'));
        if after[digits + star..].starts_with(']') {
            if first_index.is_none() {
                first_index = Some(&after[..digits + star]);
            }
            rest = &after[digits + star + 1..];
        } else {
            stripped.push('[');
            rest = after;
        }
    }
    stripped.push_str(rest);
    (stripped, first_index.filter(|i| !i.is_empty()))
}

/// Go's `strconv.Atoi` as upstream uses it (error ignored): text that is not all digits
/// (`3*`) gives 0, and a value too large to be an index stays out of range.
fn go_atoi_index(text: &str) -> usize {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().unwrap_or(usize::MAX)
    } else {
        0
    }
}

/// A step result's value, decoded like Tekton's `ResultValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultValue {
    String(String),
    Array(Vec<String>),
    Object(BTreeMap<String, String>),
}

impl ResultValue {
    /// Text starting with `[` that is a JSON string array is an array; text starting with `{`
    /// that is a JSON string map is an object; a JSON string (or `null`) is that string;
    /// anything else is the raw text.
    pub fn decode(raw: &[u8]) -> ResultValue {
        if raw.is_empty() {
            return ResultValue::String(String::new());
        }
        let Ok(doc) = gojson::parse(raw) else {
            return ResultValue::String(String::from_utf8_lossy(raw).into_owned());
        };
        match (raw.first(), &doc.kind) {
            (Some(b'['), Kind::Array(_)) => {
                if let Ok(Some(list)) = gojson::decode_string_list(&doc, "") {
                    return ResultValue::Array(list);
                }
            }
            (Some(b'{'), Kind::Object(members)) => {
                if let Some(map) = string_map(members) {
                    return ResultValue::Object(map);
                }
            }
            (_, Kind::Str(s)) => return ResultValue::String(s.clone()),
            (_, Kind::Null) => return ResultValue::String(String::new()),
            _ => {}
        }
        ResultValue::String(String::from_utf8_lossy(raw).into_owned())
    }
}

/// A JSON object as Go's `map[string]string` (later duplicates win, `null` is `""`).
fn string_map(members: &[(String, Node<'_>)]) -> Option<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (key, value) in members {
        let mut s = String::new();
        gojson::decode_string(value, &mut s, "").ok()?;
        map.insert(key.clone(), s);
    }
    Some(map)
}

/// What a reference is replaced by: a string, or (for `[*]`) a list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Replacement {
    Text(String),
    Elements(Vec<String>),
}

impl Replacement {
    /// The text used where a string is needed; a whole array stands for `""` there.
    fn text(&self) -> &str {
        match self {
            Replacement::Text(s) => s,
            Replacement::Elements(_) => "",
        }
    }
}

/// `/tekton/steps/step-<step>/results/<name>`, built like Go's `filepath.Join` (a `/` in a
/// name nests, `..` is resolved lexically, an absolute name does not escape).
fn step_result_path(layout: &Layout, step: &str, result: &str) -> String {
    go_clean(&format!(
        "{}/step-{step}/results/{result}",
        layout.steps_dir().to_string_lossy()
    ))
}

/// Resolves one matched `$(steps.….results.…)` reference by reading the result file.
fn find_replacement(layout: &Layout, reference: &str) -> Result<Replacement, String> {
    let inner = reference.strip_prefix("$(").unwrap_or(reference);
    let inner = inner.strip_suffix(')').unwrap_or(inner);
    let parsed = parse_step_expression(inner)?;
    let path = step_result_path(layout, &parsed.step, &parsed.result);
    let value = ResultValue::decode(&read_file_go(&path)?);
    let empty = Vec::new();
    let (array, object) = match &value {
        ResultValue::Array(a) => (a, None),
        ResultValue::Object(o) => (&empty, Some(o)),
        ResultValue::String(_) => (&empty, None),
    };
    Ok(match parsed.selector {
        Selector::Whole => Replacement::Text(match value {
            ResultValue::String(s) => s,
            _ => String::new(),
        }),
        Selector::Key(key) => Replacement::Text(
            object
                .and_then(|o| o.get(&key))
                .cloned()
                .unwrap_or_default(),
        ),
        Selector::Index(i) => match array.get(i) {
            Some(element) => Replacement::Text(element.clone()),
            None => {
                return Err(format!(
                    "index {} out of range for step result {}.{} with {} elements",
                    if i == usize::MAX {
                        "(too large)".to_string()
                    } else {
                        i.to_string()
                    },
                    parsed.step,
                    parsed.result,
                    array.len()
                ));
            }
        },
        // An empty array behaves like an empty string upstream (nothing to expand).
        Selector::AllElements if array.is_empty() => Replacement::Text(String::new()),
        Selector::AllElements => Replacement::Elements(array.clone()),
    })
}

/// Longest value a substitution may produce: Linux's `MAX_ARG_STRLEN` (32 pages), beyond which
/// no argument or environment string reaches `execve` anyway. Upstream has no limit there: a
/// result holding its own reference twice, referenced 30 times, grows to 2^30 copies.
pub const MAX_SUBSTITUTED_LEN: usize = 128 * 1024;

/// Longest script an artifact substitution may produce (a script comes from the pod spec, which
/// Kubernetes keeps under 1.5 MiB).
pub const MAX_SUBSTITUTED_SCRIPT_LEN: usize = 16 * 1024 * 1024;

fn too_long(reference: &str, limit: usize) -> String {
    format!("substituting {reference} would make a value longer than {limit} bytes")
}

/// Go's `strings.ReplaceAll`, refused before it would grow `s` beyond [`MAX_SUBSTITUTED_LEN`].
fn replace_bounded(s: &str, reference: &str, replacement: &str) -> Result<String, String> {
    if replacement.len() > reference.len() {
        let growth = s.matches(reference).count() * (replacement.len() - reference.len());
        if s.len() + growth > MAX_SUBSTITUTED_LEN {
            return Err(too_long(reference, MAX_SUBSTITUTED_LEN));
        }
    }
    Ok(s.replace(reference, replacement))
}

/// Replaces every step-result reference in `s` by its string form.
fn replace_step_results_in(layout: &Layout, s: &str) -> Result<String, String> {
    let mut out = s.to_string();
    for reference in step_result_refs(s) {
        let replacement = find_replacement(layout, reference)?;
        out = replace_bounded(&out, reference, replacement.text())?;
    }
    Ok(out)
}

const ARRAY_FORMAT_ERROR: &str = "value must be in \"$(steps.<step-name>.results.<result-name>[*])\" format, when using array results";

/// Substitutes step results in a list where an element that is exactly a `[*]` reference
/// expands into several elements. `on_lookup_error` words a failed lookup.
fn replace_step_results_in_list(
    layout: &Layout,
    items: &[String],
    on_lookup_error: impl Fn(&str, &str, String) -> String,
) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(items.len());
    'items: for item in items {
        let mut replaced = item.clone();
        for reference in step_result_refs(item) {
            let replacement = find_replacement(layout, reference)
                .map_err(|e| on_lookup_error(reference, item, e))?;
            match replacement {
                Replacement::Elements(elements) => {
                    if item != reference {
                        return Err(ARRAY_FORMAT_ERROR.to_string());
                    }
                    out.extend(elements);
                    continue 'items;
                }
                Replacement::Text(text) => replaced = replace_bounded(&replaced, reference, &text)?,
            }
        }
        out.push(replaced);
    }
    Ok(out)
}

/// Step results (docs/contract.md §3.13): every env value, then the when-expressions (values with
/// `[*]` expansion, input, cel), then the command argv (`[*]` expands into several arguments).
/// Stops at the first error; what was substituted before it stays substituted.
pub fn apply_step_results(
    layout: &Layout,
    env: &mut Env,
    when: &mut [WhenExpression],
    command: &mut Vec<String>,
) -> Result<(), String> {
    for (_, value) in env.iter_mut() {
        *value = replace_step_results_in(layout, value)?;
    }
    for expr in when.iter_mut() {
        expr.values = replace_step_results_in_list(layout, &expr.values, |_, _, e| e)?;
        expr.input = replace_step_results_in(layout, &expr.input)?;
        expr.cel = replace_step_results_in(layout, &expr.cel)?;
    }
    *command = replace_step_results_in_list(layout, command, |reference, item, _| {
        format!("failed to find replacement for {reference} to replace {item}")
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Artifacts
// ---------------------------------------------------------------------------------------------

/// All non-overlapping matches of upstream's
/// `\$\(steps\.([^.]+)\.(?:inputs|outputs)\.([^.)]+)\)` in `s`, leftmost first.
pub fn artifact_refs(s: &str) -> Vec<&str> {
    // Match boundaries are ASCII bytes, hence char boundaries.
    artifact_ref_spans(s.as_bytes())
        .into_iter()
        .map(|(start, end)| &s[start..end])
        .collect()
}

/// Byte spans of [`artifact_refs`] in arbitrary bytes (a script need not be UTF-8).
fn artifact_ref_spans(s: &[u8]) -> Vec<(usize, usize)> {
    let prefix = STEPS_PREFIX.as_bytes();
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(offset) = find_bytes(&s[pos..], prefix) {
        let start = pos + offset;
        match artifact_ref_end(s, start + prefix.len()) {
            Some(end) => {
                found.push((start, end));
                pos = end;
            }
            None => pos = start + 1,
        }
    }
    found
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// End (exclusive) of an artifact reference whose `$(steps.` prefix ends at `body`.
fn artifact_ref_end(s: &[u8], body: usize) -> Option<usize> {
    let step_len = s[body..].iter().position(|&b| b == b'.')?;
    if step_len == 0 {
        return None;
    }
    let after_step = &s[body + step_len + 1..];
    let kind_len = [&b"inputs."[..], &b"outputs."[..]]
        .iter()
        .find(|k| after_step.starts_with(k))?
        .len();
    let name_start = body + step_len + 1 + kind_len;
    let name_len = s[name_start..]
        .iter()
        .position(|&b| b == b'.' || b == b')')?;
    if name_len == 0 || s[name_start + name_len] != b')' {
        return None;
    }
    Some(name_start + name_len + 1)
}

/// A parsed `$(steps.<step>.inputs|outputs.<name>)` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactTemplate {
    /// `step-<step>`
    pub container_name: String,
    /// `inputs` or `outputs`
    pub kind: String,
    pub artifact_name: String,
}

/// Parses a whole artifact reference; anything but exactly one reference is an error.
pub fn parse_artifact_template(template: &str) -> Result<ArtifactTemplate, String> {
    if template.is_empty() {
        return Err("template is empty".to_string());
    }
    if artifact_refs(template).first() != Some(&template) {
        return Err(format!("invalid artifact template {template}"));
    }
    let inner = &template[2..template.len() - 1];
    let parts: Vec<&str> = inner.split('.').collect();
    Ok(ArtifactTemplate {
        container_name: format!("step-{}", parts[1]),
        kind: parts[2].to_string(),
        artifact_name: parts.get(3).copied().unwrap_or_default().to_string(),
    })
}

/// One value of an artifact (Tekton `ArtifactValue`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactValue {
    /// Algorithm → digest; Go marshals map keys sorted.
    pub digest: BTreeMap<String, String>,
    pub uri: String,
}

/// A named artifact (Tekton `Artifact`); `values: None` is Go's nil slice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifact {
    pub name: String,
    pub values: Option<Vec<ArtifactValue>>,
    pub build_output: bool,
}

/// A step's `provenance.json` (Tekton `Artifacts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    pub inputs: Vec<Artifact>,
    pub outputs: Vec<Artifact>,
}

impl Artifacts {
    /// Decodes `provenance.json` with Go `json.Unmarshal` semantics.
    pub fn decode(raw: &[u8]) -> Result<Artifacts, String> {
        let json = gojson::parse(raw)?;
        let mut artifacts = Artifacts::default();
        for (key, value) in members_of(&json, "Go value", "v1.Artifacts")? {
            if gojson::field_is(key, "inputs") {
                artifacts.inputs = decode_artifact_list(value, "inputs")?;
            } else if gojson::field_is(key, "outputs") {
                artifacts.outputs = decode_artifact_list(value, "outputs")?;
            }
        }
        Ok(artifacts)
    }
}

/// The members of a JSON object destined for a Go struct (`null` has none).
fn members_of<'a, 'b>(
    json: &'a Node<'b>,
    place: &str,
    go_type: &str,
) -> Result<&'a [(String, Node<'b>)], String> {
    match &json.kind {
        Kind::Object(members) => Ok(members),
        Kind::Null => Ok(&[]),
        other => Err(gojson::type_error(other, place, go_type)),
    }
}

fn decode_artifact_list(json: &Node<'_>, path: &str) -> Result<Vec<Artifact>, String> {
    let items = match &json.kind {
        Kind::Null => return Ok(Vec::new()),
        Kind::Array(items) => items,
        other => {
            return Err(gojson::type_error(
                other,
                &format!("Go struct field Artifacts.{path}"),
                "[]v1.Artifact",
            ));
        }
    };
    let place = format!("Go struct field Artifacts.{path}");
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut artifact = Artifact::default();
        for (key, value) in members_of(item, &place, "v1.Artifact")? {
            let field = |name: &str| format!("Go struct field Artifact.{path}.{name}");
            if gojson::field_is(key, "name") {
                gojson::decode_string(value, &mut artifact.name, &field("name"))?;
            } else if gojson::field_is(key, "values") {
                artifact.values = decode_values(value, &format!("{path}.values"))?;
            } else if gojson::field_is(key, "buildoutput") {
                match &value.kind {
                    Kind::Bool(b) => artifact.build_output = *b,
                    Kind::Null => {}
                    other => return Err(gojson::type_error(other, &field("buildOutput"), "bool")),
                }
            }
        }
        out.push(artifact);
    }
    Ok(out)
}

fn decode_values(json: &Node<'_>, path: &str) -> Result<Option<Vec<ArtifactValue>>, String> {
    let place = format!("Go struct field Artifact.{path}");
    let items = match &json.kind {
        Kind::Null => return Ok(None),
        Kind::Array(items) => items,
        other => return Err(gojson::type_error(other, &place, "[]v1.ArtifactValue")),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut value = ArtifactValue::default();
        for (key, member) in members_of(item, &place, "v1.ArtifactValue")? {
            let field = |name: &str| format!("Go struct field ArtifactValue.{path}.{name}");
            if gojson::field_is(key, "digest") {
                value.digest = match &member.kind {
                    Kind::Null => BTreeMap::new(),
                    Kind::Object(members) => {
                        let mut map = BTreeMap::new();
                        for (alg, digest) in members {
                            let mut s = String::new();
                            gojson::decode_string(digest, &mut s, &field("digest"))?;
                            map.insert(alg.clone(), s);
                        }
                        map
                    }
                    other => {
                        return Err(gojson::type_error(
                            other,
                            &field("digest"),
                            "map[v1.Algorithm]string",
                        ));
                    }
                };
            } else if gojson::field_is(key, "uri") {
                gojson::decode_string(member, &mut value.uri, &field("uri"))?;
            }
        }
        out.push(value);
    }
    Ok(Some(out))
}

/// Go `json.Marshal` of a `[]ArtifactValue` (nil → `null`; `omitempty` fields).
pub fn marshal_artifact_values(values: Option<&[ArtifactValue]>) -> String {
    let Some(values) = values else {
        return "null".to_string();
    };
    let mut out = String::from("[");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if !value.digest.is_empty() {
            out.push_str("\"digest\":{");
            for (j, (alg, digest)) in value.digest.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                gocompat::json::push_str(&mut out, alg);
                out.push(':');
                gocompat::json::push_str(&mut out, digest);
            }
            out.push('}');
        }
        if !value.uri.is_empty() {
            if !value.digest.is_empty() {
                out.push(',');
            }
            out.push_str("\"uri\":");
            gocompat::json::push_str(&mut out, &value.uri);
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// `/tekton/steps/<container>/artifacts/provenance.json`
pub fn step_artifacts_path(layout: &Layout, container_name: &str) -> String {
    go_clean(&format!(
        "{}/{container_name}/artifacts/provenance.json",
        layout.steps_dir().to_string_lossy()
    ))
}

/// Reads and decodes a step's `provenance.json`.
pub fn load_step_artifacts(layout: &Layout, container_name: &str) -> Result<Artifacts, String> {
    Artifacts::decode(&read_file_go(&step_artifacts_path(layout, container_name))?)
}

/// The JSON replacement for one whole artifact reference.
pub fn artifact_values(layout: &Layout, template: &str) -> Result<String, String> {
    let parsed = parse_artifact_template(template)?;
    let artifacts = load_step_artifacts(layout, &parsed.container_name)?;
    let list = if parsed.kind == "outputs" {
        &artifacts.outputs
    } else {
        &artifacts.inputs
    };
    list.iter()
        .find(|a| a.name == parsed.artifact_name)
        .map(|a| marshal_artifact_values(a.values.as_deref()))
        .ok_or_else(|| format!("values for template {template} not found"))
}

/// Replaces every artifact reference in `s` by its values' JSON.
fn replace_artifacts_in(layout: &Layout, s: &str) -> Result<String, String> {
    let mut out = s.to_string();
    for reference in artifact_refs(s) {
        out = replace_bounded(&out, reference, &artifact_values(layout, reference)?)?;
    }
    Ok(out)
}

/// [`replace_artifacts_in`] for a script's bytes, which are kept as they are around matches.
fn replace_artifacts_in_bytes(layout: &Layout, s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = s.to_vec();
    for (start, end) in artifact_ref_spans(s) {
        let reference = String::from_utf8_lossy(&s[start..end]);
        let values = artifact_values(layout, &reference)?;
        out = replace_all_bytes(&out, &s[start..end], values.as_bytes());
        if out.len() > MAX_SUBSTITUTED_SCRIPT_LEN {
            return Err(too_long(&reference, MAX_SUBSTITUTED_SCRIPT_LEN));
        }
    }
    Ok(out)
}

/// Go's `strings.ReplaceAll` on bytes (non-overlapping, left to right).
fn replace_all_bytes(s: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = find_bytes(rest, from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Artifacts (docs/contract.md §3.13): in the script file (when the command is one file directly
/// under the scripts directory; a changed script is written to a new `$TMPDIR/script-<n>`, mode
/// 0755, and run instead) or else in each argv element; then in every env value. On error the
/// command is left unchanged and later env values are not touched.
pub fn apply_artifacts(
    layout: &Layout,
    env: &mut Env,
    command: &mut Vec<String>,
) -> Result<(), String> {
    let scripts_dir = go_clean(&layout.scripts_dir().to_string_lossy());
    if command.len() == 1 && go_dir(&command[0]) == scripts_dir {
        let content = read_file_go(&command[0])?;
        let replaced = replace_artifacts_in_bytes(layout, &content)?;
        if replaced != content {
            let tmpdir = temp_dir(env);
            let path = write_temp_script(&tmpdir, &replaced)?;
            *command = vec![path];
        }
    } else {
        let replaced = command
            .iter()
            .map(|arg| replace_artifacts_in(layout, arg))
            .collect::<Result<Vec<_>, _>>()?;
        *command = replaced;
    }
    for (_, value) in env.iter_mut() {
        *value = replace_artifacts_in(layout, value)?;
    }
    Ok(())
}

/// Go's `os.TempDir()` as seen by the step: `TMPDIR` from the child's environment (else
/// this process's), `/tmp` when unset or empty.
fn temp_dir(env: &Env) -> String {
    let from_env = env
        .iter()
        .find(|(k, _)| k == "TMPDIR")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("TMPDIR").ok());
    from_env
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/tmp".to_string())
}

/// Creates `<dir>/script-<random>` exclusively (as Go's `os.CreateTemp`), makes it 0755 and
/// writes `content` to it whole.
fn write_temp_script(dir: &str, content: &[u8]) -> Result<String, String> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let prefix = if dir.ends_with('/') {
        format!("{dir}script-")
    } else {
        format!("{dir}/script-")
    };
    let mut seed = random_seed();
    for _ in 0..10_000 {
        seed = next_random(seed);
        let path = format!("{prefix}{}", seed >> 32);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match file {
            Ok(mut file) => {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| gocompat::fs::path_error("chmod", &path, &e))?;
                file.write_all(content)
                    .map_err(|e| gocompat::fs::path_error("write", &path, &e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(gocompat::fs::path_error("open", format!("{prefix}*"), &e)),
        }
    }
    Err(format!(
        "pattern contains path separator or too many collisions creating {prefix}*"
    ))
}

/// A per-call random seed (std's hasher keys come from the OS's random source).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// One splitmix64 step: enough spread for unique temp names.
fn next_random(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------------------
// Go path and error helpers
// ---------------------------------------------------------------------------------------------

/// Go's `os.ReadFile` with Go's error wording (`open <path>: no such file or directory`),
/// bounded like every result read (`gocompat::files::MAX_RESULT_BYTES`).
fn read_file_go(path: &str) -> Result<Vec<u8>, String> {
    use gocompat::files;
    files::read_bounded(std::path::Path::new(path), files::MAX_RESULT_BYTES).map_err(|e| match e {
        files::ReadError::Io(op, err) => gocompat::fs::path_error(op, path, &err),
        files::ReadError::NotFound => gocompat::fs::path_error(
            "open",
            path,
            &std::io::Error::from_raw_os_error(libc::ENOENT),
        ),
        other => other.text(path),
    })
}

/// Go's `path/filepath.Clean` for Unix paths (the shared, Go-verified copy).
pub use gocompat::fs::clean as go_clean;

/// Go's `path/filepath.Dir` for Unix paths.
pub fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => go_clean(&path[..=i]),
        None => ".".to_string(),
    }
}

#[cfg(test)]
mod go_oracle_tests;
#[cfg(test)]
mod tests;
