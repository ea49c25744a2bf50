//! The `working-dir-initializer` init container: for each step `workingDir` the controller
//! passes, create it (`mkdir -p`, 0755) when it is relative (resolved against the cwd, which the
//! controller sets to `/workspace`) or lies under `/workspace/`; silently skip every other
//! absolute path, as upstream does.
//!
//! Beyond upstream: a relative path that climbs out of the workspace with `..` (after
//! `filepath.Clean`, it starts with `..`) is refused with an error and exit 1, before anything
//! is created. Upstream would create e.g. `/etc/x` for `../etc/x`.

use gocompat::fs as gofs;
use goflag::go_quote;
use stepkit_layout::Layout;

/// What to do with one argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `mkdir -p` this (cleaned) path.
    Create(String),
    /// Absolute path outside `<workspace>/` (including the workspace itself): skipped silently.
    Ignore,
    /// Relative path that escapes the workspace through `..` (refused).
    Escape(String),
}

/// Mode of created directories (before umask).
pub const DIR_MODE: u32 = 0o755;

/// Go's `filepath.Clean` (the upstream `cleanPath` on Linux).
pub fn clean_path(path: &str) -> String {
    gofs::clean(path)
}

/// Classifies `arg` against the workspace root `workspace` (both cleaned first).
pub fn classify(arg: &str, workspace: &str) -> Action {
    let path = clean_path(arg);
    if !path.starts_with('/') {
        if path == ".." || path.starts_with("../") {
            return Action::Escape(path);
        }
        return Action::Create(path);
    }
    let root = clean_path(workspace);
    let prefix = if root == "/" {
        "/".to_string()
    } else {
        format!("{root}/")
    };
    if path.starts_with(&prefix) {
        Action::Create(path)
    } else {
        Action::Ignore
    }
}

/// Creates every directory `args` asks for. On failure returns the log line
/// (`Failed to mkdir "<p>": mkdir <p>: permission denied`); the caller exits 1.
/// Escaping paths are checked for all arguments before anything is created.
pub fn run(args: &[String], layout: &Layout) -> Result<(), String> {
    let workspace = layout.workspace().to_string_lossy();
    let actions: Vec<Action> = args.iter().map(|a| classify(a, &workspace)).collect();
    if let Some(Action::Escape(path)) = actions.iter().find(|a| matches!(a, Action::Escape(_))) {
        return Err(format!(
            "Refusing to create {}: relative working directory escapes the workspace",
            go_quote(path)
        ));
    }
    for action in actions {
        if let Action::Create(path) = action {
            gofs::mkdir_all(&path, DIR_MODE)
                .map_err(|err| format!("Failed to mkdir {}: {err}", go_quote(&path)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_matches_upstream_cases() {
        for (input, want) in [
            ("/workspace/", "/workspace"),
            ("/workspace/foobar", "/workspace/foobar"),
            ("/foo//bar", "/foo/bar"),
            ("./foo/bar", "foo/bar"),
            ("foo/bar", "foo/bar"),
            ("", "."),
        ] {
            assert_eq!(clean_path(input), want);
        }
    }

    #[test]
    fn classification() {
        let ws = "/workspace";
        assert_eq!(classify("zzz", ws), Action::Create("zzz".into()));
        assert_eq!(classify("./a//b/", ws), Action::Create("a/b".into()));
        assert_eq!(classify("a/../b", ws), Action::Create("b".into()));
        assert_eq!(classify("", ws), Action::Create(".".into()));
        assert_eq!(
            classify("/workspace/bbb", ws),
            Action::Create("/workspace/bbb".into())
        );
        assert_eq!(
            classify("/workspace//bbb/", "/workspace/"),
            Action::Create("/workspace/bbb".into())
        );
        assert_eq!(classify("/workspace", ws), Action::Ignore);
        assert_eq!(classify("/workspace/", ws), Action::Ignore);
        assert_eq!(classify("/workspace/..", ws), Action::Ignore);
        assert_eq!(classify("/workspace/../etc", ws), Action::Ignore);
        assert_eq!(classify("/workspacefoo", ws), Action::Ignore);
        assert_eq!(classify("/ignored", ws), Action::Ignore);
        assert_eq!(classify("../etc/x", ws), Action::Escape("../etc/x".into()));
        assert_eq!(classify("a/../../x", ws), Action::Escape("../x".into()));
        assert_eq!(classify("..", ws), Action::Escape("..".into()));
        assert_eq!(classify("..foo", ws), Action::Create("..foo".into()));
    }

    #[test]
    fn creates_under_relocated_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        let layout = Layout::new(dir.path().join("tekton"), &ws);
        let inside = ws.join("a/b").to_str().unwrap().to_string();
        let outside = dir.path().join("out").to_str().unwrap().to_string();
        run(&[inside.clone(), outside.clone()], &layout).unwrap();
        assert!(std::path::Path::new(&inside).is_dir());
        assert!(!std::path::Path::new(&outside).exists());
        run(&[], &layout).unwrap();
    }

    #[test]
    fn escape_is_refused_before_creating_anything() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let layout = Layout::new(dir.path().join("tekton"), &ws);
        let inside = ws.join("a").to_str().unwrap().to_string();
        let err = run(&[inside.clone(), "x/../../y".to_string()], &layout).unwrap_err();
        assert_eq!(
            err,
            "Refusing to create \"../y\": relative working directory escapes the workspace"
        );
        assert!(!std::path::Path::new(&inside).exists());
    }

    #[test]
    fn mkdir_failure_is_go_formatted() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        std::fs::write(ws.join("file"), "x").unwrap();
        let layout = Layout::new(dir.path().join("tekton"), &ws);
        let target = ws.join("file/sub").to_str().unwrap().to_string();
        let file = ws.join("file").to_str().unwrap().to_string();
        assert_eq!(
            run(std::slice::from_ref(&target), &layout).unwrap_err(),
            format!("Failed to mkdir \"{target}\": mkdir {file}: not a directory")
        );
    }
}
