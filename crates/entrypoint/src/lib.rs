//! Tekton's step wrapper: waits for the previous step, runs the step's command, and reports to
//! the controller through post files, `exitCode` and the termination message.
//!
//! One module per lifecycle stage; `main.rs` only parses flags, [`lifecycle::run`] is the
//! step's phases in order. A step: [`args`] (command line) → [`liveness`] (lock held until exit) →
//! [`wait`] (previous step, via [`watch`]) → [`step`] (upstream's `Go()`: substitution, when,
//! [`run`] with [`pid1`] signal routing and reaping, [`post`] files, [`results`]) →
//! [`exit`] (exit-code mapping) and [`debug`] breakpoints. Syscalls go through nix, or [`sys`]
//! (the crate's only `unsafe`).

pub mod args;
pub mod debug;
pub mod exit;
pub mod lifecycle;
pub mod liveness;
pub mod pid1;
pub mod platform;
pub mod post;
pub mod reported;
pub mod results;
pub mod run;
pub mod step;
pub mod subcommands;
pub mod substitute;
pub mod sys;
pub mod tee;
pub mod wait;
pub mod watch;
pub mod when;
