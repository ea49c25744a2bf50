//! `sidecarlogresults`: the results sidecar of `results-from: sidecar-logs` (see the library).

fn main() {
    let argv = goflag::utf8_argv_or_exit();
    let layout = stepkit_layout::Layout::from_env();
    golog::exit(sidecarlogresults::run(&argv, &layout));
}
