//! Tekton's step wrapper: waits for the previous step, runs the step's command, and reports to
//! the controller through post files, `exitCode` and the termination message.
//!
//! One module per lifecycle stage; `main.rs` only parses and maps errors to exit codes.

pub mod platform;
pub mod subcommands;
pub mod substitute;
pub mod when;
