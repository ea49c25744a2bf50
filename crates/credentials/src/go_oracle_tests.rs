//! Differential tests against the Go toolchain: the same inputs go through Go's `net/url`
//! and `encoding/json` (a tiny program written here, stdlib only) and through this crate's
//! re-implementations; outputs must be byte-identical and errors must agree. Without `go`
//! (1.26 or later) they call `testsupport::skip` (a failure under `STEPKIT_REQUIRE_ALL=1`).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::docker::{self, DockerEntry};
use crate::gourl;

const GO_MAIN: &str = r#"package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

type entry struct {
	Secret   string `json:"-"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth"`
	Email    string `json:"email,omitempty"`
}

type configFile struct {
	Auth map[string]entry `json:"auths"`
}

func out(s string) { fmt.Println(hex.EncodeToString([]byte(s))) }

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), " ")
		var args []string
		for _, f := range fields[1:] {
			b, _ := hex.DecodeString(f)
			args = append(args, string(b))
		}
		switch fields[0] {
		case "url":
			u, err := url.Parse(args[0])
			if err != nil {
				out("ERR " + err.Error())
				continue
			}
			u.User = url.UserPassword(args[1], args[2])
			has := u.Path != "" && u.Path != "/"
			out(u.String() + " " + strconv.FormatBool(has) + " " + strconv.Quote(args[0]))
		case "configjson":
			c := configFile{}
			if err := json.Unmarshal([]byte(args[0]), &c); err != nil {
				out("ERR")
				continue
			}
			m := map[string]entry{}
			for k, v := range c.Auth {
				m[k] = v
			}
			b, _ := json.Marshal(configFile{Auth: m})
			out(string(b))
		case "cfg":
			m := map[string]entry{}
			if err := json.Unmarshal([]byte(args[0]), &m); err != nil {
				out("ERR")
				continue
			}
			merged := map[string]entry{}
			for k, v := range m {
				merged[k] = v
			}
			b, _ := json.Marshal(configFile{Auth: merged})
			out(string(b))
		}
	}
}
"#;

use testsupport::hex;

/// The oracle's hex answer as text.
fn unhex(s: &str) -> String {
    String::from_utf8_lossy(&testsupport::unhex(s)).into_owned()
}

/// Runs the Go program on `requests`; `None` (with a printed reason) when Go is unavailable.
fn go(requests: &[(&str, Vec<Vec<u8>>)]) -> Option<Vec<String>> {
    testsupport::need_tool("go")?;
    let dir = tempfile::tempdir().unwrap();
    // go 1.26 as in upstream's go.mod: selects the same GODEBUG defaults (urlstrictcolons).
    std::fs::write(dir.path().join("go.mod"), "module oracle\n\ngo 1.26\n").unwrap();
    std::fs::write(dir.path().join("main.go"), GO_MAIN).unwrap();
    let mut input = String::new();
    for (mode, args) in requests {
        input.push_str(mode);
        for a in args {
            input.push(' ');
            input.push_str(&hex(a));
        }
        input.push('\n');
    }
    let mut child = Command::new("go")
        .args(["run", "."])
        .current_dir(dir.path())
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("go.mod requires go") || err.contains("toolchain") {
            testsupport::skip(format!("local Go is older than 1.26: {err}"));
            return None;
        }
        panic!("go run failed: {err}");
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(unhex)
            .collect(),
    )
}

const USERS: [(&str, &str); 5] = [
    ("bar", "baz"),
    ("foo\\bar\\banana", "baz"),
    ("a@b/c?d:e", "$&+,;=-._~! x\n\"'<>[]{}|^`%"),
    ("é☃", "p%w\u{1}\u{7f}"),
    ("", ""),
];

const URLS: &[&str] = &[
    "https://github.com",
    "https://github.com/",
    "https://github.com/org/repo",
    "HTTPS://GitHub.COM/Org/Repo.git",
    "github.com",
    "github.com/org/repo",
    "",
    "http://h:8080",
    "https://h:",
    "https://h:abc",
    "https://localhost:80:80/x",
    "ssh://h:1:2/x",
    "git://h:1:2/x",
    "https://[::1]:8443/x",
    "https://[::1]x/",
    "https://[1.2.3.4]/",
    "https://[::ffff:1.2.3.4]/",
    "https://[fe80::1%25en0]/",
    "https://[zz]/",
    "https://a[b]/",
    "https://h/a b",
    "https://h/a%20b",
    "https://h/a%2fb",
    "https://h/a%2Fb%2f",
    "https://h/%zz",
    "https://h/%f",
    "https://h/%ff",
    "https://h/a b%ff",
    "https://h%ff.com/",
    "https://h%41/",
    "https://h%25/",
    "https://h/?",
    "https://h/?q=1&r=%zz",
    "https://h/a?b?",
    "https://h/#frag",
    "https://h/#fr ag%41",
    "https://h/#%zz",
    "https://h#",
    "https:opaque",
    "https:opaque/x?y",
    "mailto:x@y",
    "x_y:z",
    "./a:b",
    "a/b:c",
    "//host/path",
    "///x",
    "/just/path",
    "https://user:pw@h/x",
    "https://user@h/x",
    "https://us^er@h/",
    "https://u@h@x/",
    "https://u%zz@h/",
    "https://h/é",
    "https://hé.com/",
    "https://h/a\"b'c",
    "https://h/a;b,c=d+e$f&g!h*i(j)k~l",
    "https://h/a[b]c",
    "https://h:443/a/",
    "https://h/a/..//b/./c",
    "*",
    ":foo",
    "1http://h",
    "h-t.t+p://h/x",
    "https://h/\u{1}",
    "https://h/\u{7f}",
    "file:///tmp/x",
    "file:/tmp/x",
    "git@github.com:org/repo.git",
    "https://h h/",
    "https://h<>\"/",
    "https://h!$&'()*+,;=/",
    "https://%41/",
];

#[test]
fn urls_match_go() {
    let mut reqs = Vec::new();
    for u in URLS {
        for (user, pass) in USERS {
            reqs.push((
                "url",
                vec![
                    u.as_bytes().to_vec(),
                    user.as_bytes().to_vec(),
                    pass.as_bytes().to_vec(),
                ],
            ));
        }
    }
    let Some(results) = go(&reqs) else { return };
    assert_eq!(results.len(), reqs.len());
    let mut mismatches = Vec::new();
    for (i, want) in results.iter().enumerate() {
        let url = URLS[i / USERS.len()];
        let (user, pass) = USERS[i % USERS.len()];
        let got = match gourl::parse(url) {
            Err(e) => format!("ERR {e}"),
            Ok(p) => format!(
                "{} {} {}",
                p.string_with_password(user, pass),
                !p.path.is_empty() && p.path != b"/",
                goflag::go_quote(url)
            ),
        };
        if &got != want {
            mismatches.push(format!("{url:?} {user:?}:\n  go:   {want}\n  rust: {got}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

const CONFIGS: &[&[u8]] = &[
    br#"{"auths":{"https://index.docker.io/v1":{"auth":"fooisbar"}}}"#,
    br#"{"auths":{"quay.io":{"auth":"Zm9vOmJhcg==","email":"x@y","identitytoken":"t","registrytoken":"r","serveraddress":"s"}},"credsStore":"x","credHelpers":{"a":"b"}}"#,
    br#"{"auths":{"a":{"AUTH":"1","UserName":"u","PASSWORD":"p","Email":"e"}}}"#,
    "{\"auths\":{\"a\":{\"u\u{17f}ername\":\"long-s\",\"auth\":\"x\"}}}".as_bytes(),
    br#"{"auths":{"a":{"auth":"1"},"a":{"email":"2"}}}"#,
    br#"{"auths":{"a":{"auth":"1","auth":"2","Auth":"3"}}}"#,
    br#"{"auths":{"a":{"auth":"1"}},"auths":{"b":{"auth":"2"}}}"#,
    br#"{"auths":{"a":{"auth":"1"}},"auths":null}"#,
    br#"{"auths":{"a":{"auth":"1"}},"AUTHS":{"c":{}}}"#,
    br#"{"auths":{"a":null,"b":{},"c":{"auth":null,"email":null}}}"#,
    br#"{"auths":{"<&>":{"auth":"<script>&\u2028\u2029"}}}"#,
    br#"{"auths":{"a":{"auth":"\ud83d\ude00 \ud800 \udc00x \ud800\u0041 \u00e9 \/ \b\f\n\r\t\u0001\u001f\u007f"}}}"#,
    b"{\"auths\":{\"a\":{\"auth\":\"bad\xff\xfeutf8 \xf0\x9f\x98 \xed\xa0\x80 \xc3\xa9\"}}}",
    b"{\"auths\":{\"a\xff\":{\"auth\":\"x\"}}}",
    br#"{"auths":{"a":{"auth":1}}}"#,
    br#"{"auths":{"a":{"auth":true}}}"#,
    br#"{"auths":{"a":{"auth":[]}}}"#,
    br#"{"auths":{"a":"str"}}"#,
    br#"{"auths":[]}"#,
    br#"{"auths":"x"}"#,
    br#"[]"#,
    br#""x""#,
    br#"null"#,
    br#"  {"auths" : { "a" : { "auth" : "x" } } }  "#,
    br#"{}"#,
    br#""#,
    br#"{"#,
    br#"{"auths":{"a":{"auth":"x"}}} x"#,
    br#"{"auths":{"a":{"auth":"x",}}}"#,
    br#"{"auths":{"a":{"auth":"x"}}}}"#,
    b"\xef\xbb\xbf{}",
    br#"{"auths":{"a":{"other":[1,2,{"x":-0.5e+10}],"auth":"y"}}}"#,
    br#"{"auths":{"a":{"other":01}}}"#,
    br#"{"auths":{"a":{"other":1.}}}"#,
    br#"{"auths":{"a":{"other":-}}}"#,
    br#"{"auths":{"a":{"other":tru}}}"#,
    br#"{"auths":{"a":{"auth":"\x"}}}"#,
    br#"{"auths":{"a":{"auth":"\u12"}}}"#,
    b"{\"auths\":{\"a\":{\"auth\":\"tab\tinside\"}}}",
    br#"{"auths":{"":{"auth":""}}}"#,
    br#"{"https://us.icr.io":{"auth":"fooisblubb"},"auths":{"auth":"nested"}}"#,
];

#[test]
fn docker_json_matches_go() {
    let mut reqs = Vec::new();
    for c in CONFIGS {
        reqs.push(("configjson", vec![c.to_vec()]));
        reqs.push(("cfg", vec![c.to_vec()]));
    }
    let Some(results) = go(&reqs) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let mut mismatches = Vec::new();
    for (i, want) in results.iter().enumerate() {
        let input = CONFIGS[i / 2];
        std::fs::write(&path, input).unwrap();
        let parsed: Result<BTreeMap<String, DockerEntry>, String> = if i % 2 == 0 {
            docker::auths_from_dockerconfigjson(&path)
        } else {
            docker::auths_from_dockercfg(&path)
        };
        let got = match parsed {
            Ok(m) => docker::config_json(&m),
            Err(_) => "ERR".to_string(),
        };
        if &got != want {
            mismatches.push(format!(
                "{} {:?}:\n  go:   {want}\n  rust: {got}",
                if i % 2 == 0 { "configjson" } else { "cfg" },
                String::from_utf8_lossy(input)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn basic_docker_auth_matches_go_json() {
    // The basic entry's bytes for awkward usernames/passwords, compared via the cfg path
    // (Go re-marshals what it decodes, so a JSON round trip of our output must be stable).
    let mut m = BTreeMap::new();
    for (i, (u, p)) in USERS.iter().enumerate() {
        m.insert(format!("r{i}<&>"), DockerEntry::basic(u, p));
    }
    let ours = docker::config_json(&m);
    let inner_start = ours.find(":{").unwrap_or(0) + 1;
    let inner = &ours[inner_start..ours.len() - 1];
    let Some(results) = go(&[("cfg", vec![inner.as_bytes().to_vec()])]) else {
        return;
    };
    assert_eq!(results[0], ours);
}
