//! `imagedigestexporter` binary: see the library for the behaviour.

fn main() {
    let argv = goflag::utf8_argv_or_exit();
    std::process::exit(imagedigestexporter::run(&argv));
}
