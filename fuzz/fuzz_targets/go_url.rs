//! `-basic-git` URLs: Go `url.Parse` (through [`credentials::BasicEntry::new`]) and the
//! `.gitconfig` / `.git-credentials` text written for them, plus `-ssh-git` host splitting
//! ([`credentials::parse_ssh_url`], [`credentials::ssh_host_alias`]).
//! The input is `url NUL username NUL password`. Invariants: no panic, and every entry is
//! exactly one line of `.git-credentials` whatever the URL, user name or password hold
//! (a newline there would inject a credential line).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let url = parts.next().unwrap_or_default();
    let username = parts.next().unwrap_or_default().to_string();
    let password = parts.next().unwrap_or_default().to_string();

    let (host, port, path) = credentials::parse_ssh_url(url);
    assert!(host.len() + port.len() + path.len() <= url.len() + 2);
    let _ = credentials::ssh_host_alias(&host, &path);

    if let Ok(entry) = credentials::BasicEntry::new(url, username, password) {
        let entries = [entry];
        let store = credentials::git_credentials(&entries);
        assert_eq!(store.matches('\n').count(), 1, "{store:?}");
        assert!(store.ends_with('\n'));
        let _ = credentials::basic_gitconfig(&entries);
    }
});
