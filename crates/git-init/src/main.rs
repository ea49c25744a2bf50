//! `git-init` binary: see the library for the behaviour.

fn main() {
    // SAFETY: still single-threaded, and libgit2 has not started.
    unsafe { git_init::tls::defer_default_bundle() };
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(git_init::run(&argv));
}
