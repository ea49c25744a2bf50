//! `creds-init`: see the library for what it does.

fn main() {
    let args = goflag::utf8_argv_or_exit();
    std::process::exit(creds_init::run(&args, stepkit_layout::Layout::from_env()));
}
