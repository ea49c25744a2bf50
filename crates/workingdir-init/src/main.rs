//! `workingdir-init <dir>…`: creates the steps' working directories inside the workspace.
//! No flags; silent on success; `Failed to mkdir …` and exit 1 on the first failure.

fn main() {
    // Kubernetes `workingDir` values are UTF-8 (they come from JSON), so lossy conversion is exact.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let layout = stepkit_layout::Layout::from_env();
    if let Err(line) = workingdir_init::run(&args, &layout) {
        golog::fatal(&line);
    }
}
