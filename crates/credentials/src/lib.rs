//! Tekton credential initialisation ("creds-init"), as done by upstream's entrypoint.
//!
//! The controller turns ServiceAccount secrets into five repeatable flags
//! (`-basic-docker`, `-docker-config`, `-docker-cfg`, `-basic-git`, `-ssh-git`) and mounts each
//! secret at `/tekton/creds-secrets/<secret>/`. This crate:
//! * validates the flags and reads the secret files **at parse time** (a bad value is a Go flag
//!   error, exit 2) — [`Credentials::register_flags`];
//! * writes `.docker/config.json`, `.gitconfig`, `.git-credentials` and `.ssh/*` into
//!   `/tekton/creds` with upstream's exact bytes — [`Credentials::write`];
//! * copies them into `$HOME`, and when `$HOME` is unusable points the step at `/tekton/creds`
//!   through environment variables instead — [`copy_to_home`].
//!
//! Secrets never appear in errors or logs: messages name files and URLs only.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use stepkit_layout::Layout;

mod docker;
mod fsutil;
mod git;
mod gourl;
mod home;

pub use docker::{DockerEntry, config_json, parse_dockercfg, parse_dockerconfigjson};
pub use git::{
    BasicEntry, SshEntry, basic_gitconfig, git_credentials, parse_ssh_url, ssh_host_alias,
};
pub use home::{CREDS_ITEMS, copy_creds_to_home, copy_to_home};

/// The credential flags seen on the command line, with their secret files already read.
#[derive(Debug, Default)]
pub struct Credentials {
    layout: Layout,
    /// `-basic-docker`: registry URL → entry.
    basic_docker: BTreeMap<String, DockerEntry>,
    /// `-docker-config` secret names, flag order.
    docker_config: Vec<String>,
    /// `-docker-cfg` secret names, flag order.
    docker_cfg: Vec<String>,
    /// `-basic-git`, flag order (URLs unique).
    basic_git: Vec<BasicEntry>,
    /// `-ssh-git`: distinct values in first-seen order, each with its keys in flag order.
    ssh_git: Vec<(String, Vec<SshEntry>)>,
}

/// Splits `secret=url` on every `=` (upstream's `strings.Split`): exactly two parts.
fn split_secret_url(value: &str) -> Result<(&str, &str), String> {
    let mut parts = value.split('=');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(secret), Some(url), None) => Ok((secret, url)),
        _ => Err(format!(
            "expect entries of the form secret=url, got: {value}"
        )),
    }
}

/// A secret name becomes a path component (`/tekton/creds-secrets/<name>`, `id_<name>`), so
/// it must not be empty or able to leave its directory. Kubernetes names never are.
fn check_secret_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name == "."
        || name.contains('/')
        || name.contains("..")
        || name.contains('\0')
    {
        return Err(format!(
            "invalid secret name {}: must be a Kubernetes secret name (not empty, no \"/\" or \"..\")",
            goflag::go_quote(name)
        ));
    }
    Ok(())
}

impl Credentials {
    pub fn new(layout: Layout) -> Self {
        Credentials {
            layout,
            ..Default::default()
        }
    }

    fn secret_file(&self, secret: &str, key: &str) -> PathBuf {
        self.layout.creds_secrets_dir().join(secret).join(key)
    }

    /// Whether any credential flag was given.
    pub fn is_empty(&self) -> bool {
        self.basic_docker.is_empty()
            && self.docker_config.is_empty()
            && self.docker_cfg.is_empty()
            && self.basic_git.is_empty()
            && self.ssh_git.is_empty()
    }

    /// `-basic-docker=<secret>=<registry>`: reads `username` and `password` now.
    pub fn set_basic_docker(&mut self, value: &str) -> Result<(), String> {
        let (secret, url) = split_secret_url(value)?;
        if self.basic_docker.contains_key(url) {
            return Err(format!("multiple entries for url: {url}"));
        }
        check_secret_name(secret)?;
        let username = fsutil::read_secret_text(&self.secret_file(secret, "username"))?;
        let password = fsutil::read_secret_text(&self.secret_file(secret, "password"))?;
        self.basic_docker
            .insert(url.to_string(), DockerEntry::basic(&username, &password));
        Ok(())
    }

    /// `-docker-config=<secret>`: `.dockerconfigjson` is read at write time.
    pub fn set_docker_config(&mut self, value: &str) -> Result<(), String> {
        check_secret_name(value)?;
        self.docker_config.push(value.to_string());
        Ok(())
    }

    /// `-docker-cfg=<secret>`: `.dockercfg` is read at write time.
    pub fn set_docker_cfg(&mut self, value: &str) -> Result<(), String> {
        check_secret_name(value)?;
        self.docker_cfg.push(value.to_string());
        Ok(())
    }

    /// `-basic-git=<secret>=<url>`: reads `username` and `password`, parses the URL now.
    pub fn set_basic_git(&mut self, value: &str) -> Result<(), String> {
        let (secret, url) = split_secret_url(value)?;
        if self.basic_git.iter().any(|e| e.url == url) {
            return Err(format!("multiple entries for url: {url}"));
        }
        check_secret_name(secret)?;
        let username = fsutil::read_secret_text(&self.secret_file(secret, "username"))?;
        let password = fsutil::read_secret_text(&self.secret_file(secret, "password"))?;
        self.basic_git
            .push(BasicEntry::new(url, username, password)?);
        Ok(())
    }

    /// `-ssh-git=<secret>=<host[:port][/path]>`: reads `ssh-privatekey` (required) and
    /// `known_hosts` (optional) now. Several keys may serve one value.
    pub fn set_ssh_git(&mut self, value: &str) -> Result<(), String> {
        let (secret, url) = split_secret_url(value)?;
        check_secret_name(secret)?;
        let private_key = fsutil::read_secret_text(&self.secret_file(secret, "ssh-privatekey"))?;
        let known_hosts = match fsutil::read_secret_text(&self.secret_file(secret, "known_hosts")) {
            Ok(text) => text,
            // Optional, like upstream (any read error = absent), except content we refuse.
            Err(e) if fsutil::is_content_error(&e) => return Err(e),
            Err(_) => String::new(),
        };
        let entry = SshEntry {
            secret: secret.to_string(),
            private_key,
            known_hosts,
        };
        match self.ssh_git.iter_mut().find(|(v, _)| v == url) {
            Some((_, entries)) => entries.push(entry),
            None => self.ssh_git.push((url.to_string(), vec![entry])),
        }
        Ok(())
    }

    /// Registers -basic-docker, -docker-config, -docker-cfg, -basic-git, -ssh-git on `fs`
    /// (usage texts as upstream), each validated at parse time.
    pub fn register_flags<'a>(state: &'a RefCell<Credentials>, fs: &mut goflag::FlagSet<'a>) {
        fs.func("basic-git", "List of secret=url pairs.", move |v| {
            state.borrow_mut().set_basic_git(v)
        });
        fs.func("ssh-git", "List of secret=url pairs.", move |v| {
            state.borrow_mut().set_ssh_git(v)
        });
        fs.func("basic-docker", "List of secret=url pairs.", move |v| {
            state.borrow_mut().set_basic_docker(v)
        });
        fs.func(
            "docker-config",
            "Docker config.json secret file.",
            move |v| state.borrow_mut().set_docker_config(v),
        );
        fs.func("docker-cfg", "Docker .dockercfg secret file.", move |v| {
            state.borrow_mut().set_docker_cfg(v)
        });
    }

    /// Docker builder: `<creds>/.docker/config.json` (nothing when there are no entries).
    pub fn write_docker(&self) -> Result<(), String> {
        docker::write(
            &self.layout.creds_dir(),
            &self.layout.creds_secrets_dir(),
            &self.docker_cfg,
            &self.docker_config,
            &self.basic_docker,
        )
    }

    /// Git builder: basic (`.gitconfig`, `.git-credentials`) then ssh (`.ssh/*`, insteadOf).
    pub fn write_git(&self) -> Result<(), String> {
        git::write(&self.layout.creds_dir(), &self.basic_git, &self.ssh_git)
    }

    /// Write phase: docker then git into `/tekton/creds`; errors are only logged
    /// (`Error initializing credentials: <err>`), like upstream's entrypoint.
    pub fn write(&self) {
        for result in [self.write_docker(), self.write_git()] {
            if let Err(e) = result {
                golog::log(&format!("Error initializing credentials: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod go_oracle_tests;
