//! git's `store` credential helper as git-init reads it ([`git_init::creds::http_credentials`]):
//! `~/.git-credentials` lines parsed as URLs ([`git_init::config::ParsedUrl::parse`]) and
//! matched on scheme, host, port, user and path, with `credential.<url>.*` settings matched by
//! git's urlmatch. The input is `url NUL config-url-pattern NUL .git-credentials`.
//! Invariants: no panic; a password is only ever offered from the URL itself or from a
//! credentials line for the same scheme and host.
#![no_main]

use git_init::config::{Entry, GlobalConfig, ParsedUrl};
use libfuzzer_sys::fuzz_target;

fn entry(subsection: Option<&str>, key: &str, value: &str) -> Entry {
    Entry {
        section: "credential".to_string(),
        subsection: subsection.map(str::to_string),
        key: key.to_string(),
        value: Some(value.to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    let home = stepkit_fuzz::scratch_dir().join("home");
    let parts = stepkit_fuzz::split_nul(data, 3);
    let (Ok(url), Ok(pattern)) = (std::str::from_utf8(parts[0]), std::str::from_utf8(parts[1]))
    else {
        return;
    };
    stepkit_fuzz::put(&home.join(".git-credentials"), parts[2]);
    let cfg = GlobalConfig {
        entries: vec![
            entry(None, "helper", "store"),
            entry(Some(pattern), "usehttppath", "true"),
            entry(Some(pattern), "username", "fuzz"),
        ],
        write_path: None,
        home: Some(home),
    };
    let _ = cfg.url_values("credential", "username", url);
    let found = git_init::creds::http_credentials(&cfg, url);
    let target = ParsedUrl::parse(url);
    if found.password.is_some() {
        let target = target.expect("a password offered for a URL that does not parse");
        if target.password.is_none() {
            let text = String::from_utf8_lossy(parts[2]);
            assert!(
                text.lines()
                    .filter_map(|l| ParsedUrl::parse(l.trim_end_matches('\r')))
                    .any(|have| have.scheme == target.scheme
                        && have.host_port() == target.host_port()),
                "password for {url:?} from no matching line"
            );
        }
    }
});
