//! Go `encoding/base64` decoding (`StdEncoding` and `RawStdEncoding`, non-strict).
//!
//! Go's decoder differs from the `base64` crate in ways the contract exposes: `\r` and `\n`
//! are skipped anywhere, non-zero trailing bits are accepted, and errors report the byte
//! offset Go computes (`illegal base64 data at input byte N`).

use std::fmt;

/// Go's `base64.CorruptInputError`: the input offset Go reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptInputError(pub usize);

impl fmt::Display for CorruptInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "illegal base64 data at input byte {}", self.0)
    }
}

impl std::error::Error for CorruptInputError {}

/// `base64.StdEncoding.Decode`: standard alphabet, `=` padding required.
pub fn decode_std(src: &[u8]) -> Result<Vec<u8>, CorruptInputError> {
    decode(src, true)
}

/// `base64.RawStdEncoding.DecodeString`: standard alphabet, no padding (`=` is invalid).
pub fn decode_raw_std(src: &[u8]) -> Result<Vec<u8>, CorruptInputError> {
    decode(src, false)
}

const PAD: u8 = b'=';

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn is_newline(c: u8) -> bool {
    c == b'\n' || c == b'\r'
}

fn decode(src: &[u8], padded: bool) -> Result<Vec<u8>, CorruptInputError> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3 + 3);
    let mut si = 0;
    while si < src.len() {
        let (next, bytes) = decode_quantum(src, si, padded)?;
        out.extend_from_slice(&bytes);
        if next == si {
            break;
        }
        si = next;
    }
    Ok(out)
}

/// One 4-character group, following Go's `decodeQuantum` step by step so that error offsets match.
fn decode_quantum(
    src: &[u8],
    mut si: usize,
    padded: bool,
) -> Result<(usize, Vec<u8>), CorruptInputError> {
    let mut buf = [0u8; 4];
    let mut dlen = 4;
    let mut j = 0;
    let mut trailing_garbage = None;
    while j < 4 {
        if si == src.len() {
            if j == 0 {
                return Ok((si, Vec::new()));
            }
            if j == 1 || padded {
                return Err(CorruptInputError(si - j));
            }
            dlen = j;
            break;
        }
        let c = src[si];
        si += 1;
        if let Some(v) = sextet(c) {
            buf[j] = v;
            j += 1;
            continue;
        }
        if is_newline(c) {
            continue;
        }
        if !padded || c != PAD {
            return Err(CorruptInputError(si - 1));
        }
        // Padding: only valid after two or three data characters.
        match j {
            0 | 1 => return Err(CorruptInputError(si - 1)),
            2 => {
                while si < src.len() && is_newline(src[si]) {
                    si += 1;
                }
                if si == src.len() {
                    return Err(CorruptInputError(src.len()));
                }
                if src[si] != PAD {
                    return Err(CorruptInputError(si - 1));
                }
                si += 1;
            }
            _ => {}
        }
        while si < src.len() && is_newline(src[si]) {
            si += 1;
        }
        if si < src.len() {
            trailing_garbage = Some(CorruptInputError(si));
        }
        dlen = j;
        break;
    }
    if let Some(err) = trailing_garbage {
        return Err(err);
    }
    let val = (u32::from(buf[0]) << 18)
        | (u32::from(buf[1]) << 12)
        | (u32::from(buf[2]) << 6)
        | u32::from(buf[3]);
    let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
    Ok((si, bytes[..dlen - 1].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(s: &str) -> Result<Vec<u8>, usize> {
        decode_std(s.as_bytes()).map_err(|e| e.0)
    }
    fn raw(s: &str) -> Result<Vec<u8>, usize> {
        decode_raw_std(s.as_bytes()).map_err(|e| e.0)
    }

    // Expected values produced by Go 1.26 `base64.StdEncoding.Decode` / `RawStdEncoding.DecodeString`.
    #[test]
    fn std_encoding_matches_go() {
        assert_eq!(
            std("IyEvdXNyL2Jpbi9lbnYgc2gKZWNobyAiSGVsbG8gV29ybGQhIgo=\n"),
            Ok(b"#!/usr/bin/env sh\necho \"Hello World!\"\n".to_vec())
        );
        assert_eq!(std(""), Ok(vec![]));
        assert_eq!(std("\n\r\n"), Ok(vec![]));
        assert_eq!(std("aGk=\r\n"), Ok(b"hi".to_vec()));
        assert_eq!(std("a\nG\rk\n=\n"), Ok(b"hi".to_vec()));
        assert_eq!(std("aQ=\n="), Ok(b"i".to_vec()));
        assert_eq!(std("aR=="), Ok(b"i".to_vec())); // non-zero trailing bits accepted
        assert_eq!(std("!"), Err(0));
        assert_eq!(std("aGk"), Err(0));
        assert_eq!(std("aGk\n"), Err(1));
        assert_eq!(std("aGk=x"), Err(4));
        assert_eq!(std("aQ="), Err(3));
        assert_eq!(std("aQ=x"), Err(2));
        assert_eq!(std("a==="), Err(1));
        assert_eq!(std("aGVsbG8gd29ybGQ hi"), Err(15));
        assert_eq!(std("aGVsbG8-"), Err(7));
        assert_eq!(std("aGVsbG8_"), Err(7));
        assert_eq!(std("aGk=aGk="), Err(4));
        assert_eq!(std("a"), Err(0));
    }

    #[test]
    fn raw_encoding_matches_go() {
        assert_eq!(raw("aGVsbG8gd29ybGQ"), Ok(b"hello world".to_vec()));
        assert_eq!(raw("aGk"), Ok(b"hi".to_vec()));
        assert_eq!(raw("aQ"), Ok(b"i".to_vec()));
        assert_eq!(raw("aGk\n"), Ok(b"hi".to_vec()));
        assert_eq!(raw("a"), Err(0));
        assert_eq!(raw("aGk="), Err(3));
        assert_eq!(raw("aGVsbG8gd29ybGQ="), Err(15));
        assert_eq!(raw(""), Ok(vec![]));
    }

    #[test]
    fn error_text() {
        assert_eq!(
            CorruptInputError(0).to_string(),
            "illegal base64 data at input byte 0"
        );
    }
}
