//! `~/.ssh/config` as git-init resolves an SSH URL through it ([`git_init::creds::ssh_plan`]):
//! URL splitting ([`git_init::creds::split_ssh_url`]), `Host` pattern lists with `*`, `?` and
//! `!`, `HostName`/`Port`/`User`/`IdentityFile`/`UserKnownHostsFile` and `%` expansion.
//! The input is `url NUL ssh-config`. Invariants: no panic, and a plan always names a host.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let home = stepkit_fuzz::scratch_dir().join("ssh-home");
    let parts = stepkit_fuzz::split_nul(data, 2);
    let Ok(url) = std::str::from_utf8(parts[0]) else {
        return;
    };
    stepkit_fuzz::put(&home.join(".ssh/config"), parts[1]);
    let _ = git_init::creds::split_ssh_url(url);
    if let Some(plan) = git_init::creds::ssh_plan(url, &home) {
        assert!(!plan.known_hosts.is_empty());
        assert!(plan.url.contains('@'), "{plan:?}");
    }
});
