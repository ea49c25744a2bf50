//! Command selection from `TEKTON_PLATFORM_COMMANDS` (docs/contract.md §3.3).
//!
//! When a step has no `command`, the controller cannot name the image's entrypoint in `-entrypoint`;
//! it puts a JSON object `{"<os>/<arch>[/<variant>]": [argv…]}` in the environment instead and the
//! entrypoint picks the entry matching the platform it was built for, using Go's platform names.

use gocompat::json::{self as gojson, Kind};
use std::collections::HashMap;

/// Go's `GOOS` name for the operating system this binary was built for.
fn goos() -> &'static str {
    if cfg!(target_os = "macos") {
        "darwin"
    } else {
        std::env::consts::OS
    }
}

/// Go's `GOARCH` name for the CPU this binary was built for.
fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        "loongarch64" => "loong64",
        other => other, // arm, s390x, riscv64, mips64, mips share Go's names
    }
}

/// The CPU variant Tekton's `platforms` package reports: only ARM has one.
fn variant(os: &str, arch: &str) -> &'static str {
    match (os, arch) {
        (_, "arm64") => "v8",
        ("darwin" | "windows", "arm") => "v7",
        (_, "arm") => "unknown",
        _ => "",
    }
}

/// Go-style platform string of this build: `linux/amd64`, `linux/arm64/v8`, `linux/arm/unknown`…
/// (`GOOS/GOARCH[/variant]`, as Tekton's `platforms.NewPlatform().Format()`).
pub fn current() -> String {
    let (os, arch) = (goos(), goarch());
    match variant(os, arch) {
        "" => format!("{os}/{arch}"),
        v => format!("{os}/{arch}/{v}"),
    }
}

/// Picks the command for `platform` from the value of `TEKTON_PLATFORM_COMMANDS`.
///
/// `env` unset or empty is a JSON error (`unexpected end of JSON input`, like Go). The exact
/// platform key wins; otherwise the key without the last `/segment` (a variant-less entry);
/// otherwise ``could not find command for platform "<p>"``.
pub fn select_command(env: Option<&str>, platform: &str) -> Result<Vec<String>, String> {
    let commands = decode_commands(env.unwrap_or(""))?;
    let lookup = |key: &str| commands.get(key).cloned();
    let without_variant = platform.rsplit_once('/').map(|(head, _)| head);
    lookup(platform)
        .or_else(|| without_variant.and_then(lookup))
        .ok_or_else(|| {
            format!(
                "could not find command for platform {}",
                goflag::go_quote(platform)
            )
        })
}

/// Go `json.Unmarshal` into `map[string][]string`: `null` is an empty map, a `null` entry an
/// empty command, `null` elements empty strings, and a later duplicate key wins.
pub(crate) fn decode_commands(json: &str) -> Result<HashMap<String, Vec<String>>, String> {
    let doc = gojson::parse(json.as_bytes())?;
    let members = match doc.kind {
        Kind::Null => return Ok(HashMap::new()),
        Kind::Object(members) => members,
        other => {
            return Err(gojson::type_error(
                &other,
                "Go value",
                "map[string][]string",
            ));
        }
    };
    let mut commands = HashMap::new();
    for (platform, argv) in members {
        let argv = gojson::decode_string_list(&argv, "Go value")?.unwrap_or_default();
        commands.insert(platform, argv);
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(entries: &[(&str, &[&str])]) -> String {
        let map: HashMap<&str, &[&str]> = entries.iter().copied().collect();
        serde_json::to_string(&map).unwrap()
    }

    #[test]
    fn platform_exists() {
        let env = cmds(&[
            ("linux/amd64", &["my", "command"]),
            ("linux/s390x", &["other", "one"]),
        ]);
        assert_eq!(
            select_command(Some(&env), "linux/amd64").unwrap(),
            ["my", "command"]
        );
    }

    #[test]
    fn platform_not_found() {
        let env = cmds(&[
            ("linux/amd64", &["my", "command"]),
            ("linux/s390x", &["other", "one"]),
        ]);
        assert_eq!(
            select_command(Some(&env), "linux/ppc64le").unwrap_err(),
            r#"could not find command for platform "linux/ppc64le""#
        );
    }

    #[test]
    fn platform_fallback() {
        let env = cmds(&[
            ("linux/amd64", &["my", "command"]),
            ("linux/s390x", &["other", "one"]),
        ]);
        assert_eq!(
            select_command(Some(&env), "linux/amd64/v8").unwrap(),
            ["my", "command"]
        );
    }

    #[test]
    fn platform_fallback_not_needed() {
        let env = cmds(&[
            ("linux/amd64", &["other", "one"]),
            ("linux/amd64/v8", &["my", "command"]),
        ]);
        assert_eq!(
            select_command(Some(&env), "linux/amd64/v8").unwrap(),
            ["my", "command"]
        );
    }

    #[test]
    fn arm64_variant_falls_back_to_key_without_variant() {
        let env = cmds(&[("linux/arm64", &["my", "command"])]);
        assert_eq!(
            select_command(Some(&env), "linux/arm64/v8").unwrap(),
            ["my", "command"]
        );
    }

    #[test]
    fn fallback_drops_only_the_last_segment() {
        let env = cmds(&[("linux", &["os", "only"])]);
        assert_eq!(
            select_command(Some(&env), "linux/amd64").unwrap(),
            ["os", "only"]
        );
    }

    #[test]
    fn missing_or_empty_variable_is_a_json_error() {
        for env in [None, Some("")] {
            assert_eq!(
                select_command(env, "linux/amd64").unwrap_err(),
                "unexpected end of JSON input"
            );
        }
        assert!(select_command(Some("{\"linux/amd64\": 1}"), "linux/amd64").is_err());
        assert!(select_command(Some("[]"), "linux/amd64").is_err());
    }

    #[test]
    fn null_map_finds_nothing_and_null_entry_is_empty_command() {
        assert!(
            select_command(Some("null"), "linux/amd64")
                .unwrap_err()
                .starts_with("could not find command")
        );
        assert_eq!(
            select_command(Some(r#"{"linux/amd64":null}"#), "linux/amd64").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            select_command(
                Some(r#"{"linux/amd64":["a"],"linux/amd64":["b",null]}"#),
                "linux/amd64"
            )
            .unwrap(),
            ["b", ""]
        );
    }

    #[test]
    fn current_platform_uses_go_names() {
        let p = current();
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        assert_eq!(p, "linux/amd64");
        #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
        assert_eq!(p, "linux/arm64/v8");
        #[cfg(all(target_os = "linux", target_arch = "arm"))]
        assert_eq!(p, "linux/arm/unknown");
        assert!(p.contains('/'));
    }
}
