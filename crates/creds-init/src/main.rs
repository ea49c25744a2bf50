//! `creds-init`: see the library for what it does.

fn main() {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(creds_init::run(&args, stepkit_layout::Layout::from_env()));
}
