//! Credential initialisation ("creds-init"). (Being built: see the credentials issue.)
use std::cell::RefCell;

/// The credential flags seen on the command line.
#[derive(Debug, Default)]
pub struct Credentials {
    pub layout: stepkit_layout::Layout,
}

impl Credentials {
    pub fn new(layout: stepkit_layout::Layout) -> Self {
        Credentials { layout }
    }
    /// Registers the five credential flags, validated at parse time.
    pub fn register_flags<'a>(_state: &'a RefCell<Credentials>, fs: &mut goflag::FlagSet<'a>) {
        for name in ["basic-docker", "docker-config", "docker-cfg", "basic-git", "ssh-git"] {
            fs.func(name, "", |_| Ok(()));
        }
    }
    /// Writes `/tekton/creds`; errors are logged, never fatal.
    pub fn write(&self) {}
}

/// Copies `/tekton/creds` to `$HOME`; returns environment variables the step process should get.
pub fn copy_to_home(_layout: &stepkit_layout::Layout) -> Vec<(String, String)> {
    Vec::new()
}
