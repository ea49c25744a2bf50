//! Tekton termination messages: Go-compatible JSON, `tknz:` compression, in-place writes.
//! (Being built: see the entrypoint issue.)

/// One entry of the message (`pkg/result.RunResult`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunResult {
    pub key: String,
    /// Raw bytes; invalid UTF-8 is encoded as Go does (`\ufffd` per bad byte).
    pub value: Vec<u8>,
    pub resource_name: String,
    /// 0 = not emitted.
    pub result_type: u8,
}
