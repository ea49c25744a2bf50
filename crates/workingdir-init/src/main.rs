//! `workingdir-init <dir>…`: creates the steps' working directories inside the workspace.
//! No flags; silent on success; `Failed to mkdir …` and exit 1 on the first failure.

fn main() {
    // Kubernetes `workingDir` values are UTF-8 (they come from JSON); anything else is refused.
    let args: Vec<String> = goflag::utf8_argv_or_exit().into_iter().skip(1).collect();
    let layout = stepkit_layout::Layout::from_env();
    if let Err(line) = workingdir_init::run(&args, &layout) {
        golog::fatal(&line);
    }
}
