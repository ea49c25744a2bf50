//! `entrypoint`: Tekton's step wrapper (see the library docs and docs/entrypoint.md). This file
//! only parses the command line; [`entrypoint::lifecycle::run`] is the step.

use std::cell::RefCell;

use credentials::Credentials;
use entrypoint::args::{self, Config};
use entrypoint::{lifecycle, subcommands};
use stepkit_layout::Layout;

fn main() {
    let argv = goflag::utf8_argv_or_exit();
    let program = argv.first().cloned().unwrap_or_else(|| "entrypoint".into());
    let layout = Layout::from_env();

    // docs/contract.md §3.5 step 1: split, register, parse (exit 2 / 0 on -h).
    let (flag_args, command_args) = args::split(argv.get(1..).unwrap_or_default());
    let creds = RefCell::new(Credentials::new(layout.clone()));
    let (cfg, positional) = {
        let mut fs = goflag::FlagSet::new(&program);
        args::register(&mut fs, &layout);
        Credentials::register_flags(&creds, &mut fs);
        let parsed = fs.parse_or_exit(&flag_args);
        (Config::from_parsed(&parsed), parsed.args().to_vec())
    };

    // docs/contract.md §3.5 step 2: subcommands.
    if let Some(code) = subcommands::dispatch(&positional, &layout) {
        std::process::exit(code);
    }

    lifecycle::run(cfg, command_args, creds.into_inner(), layout)
}
