//! Byte-exact reproductions of small pieces of Go's standard library that the in-pod
//! binaries' observable output depends on: [`json`] (`json.Marshal` of a string), [`fs`]
//! (path errors, `filepath.Clean`, `os.MkdirAll`) and [`base64`] (Go's base64 decoder).
//! One copy here keeps every binary's bytes identical. [`files`] is the one way the binaries
//! write files other containers read (whole, via a unique temporary) and read files other
//! containers control (bounded).

pub mod base64;
pub mod files;
pub mod fs;
pub mod json;
