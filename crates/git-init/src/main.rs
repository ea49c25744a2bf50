//! `git-init` binary: see the library for the behaviour.

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(git_init::run(&argv));
}
