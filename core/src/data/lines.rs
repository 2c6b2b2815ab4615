//! Line splitting shared by the readers: UTF-8 and length checks with `file:line` errors.

use crate::error::{CoreError, Result};
use std::path::Path;

/// Longest accepted line, in bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Splits a file into numbered lines (1-based), checking each is valid UTF-8 and at most
/// [`MAX_LINE_BYTES`] long. Empty lines at the very end are dropped; an empty file, or one of
/// blank lines only, is an error; `\r\n` endings are accepted.
pub fn checked_lines<'a>(
    bytes: &'a [u8],
    path: &Path,
    expected: &str,
) -> Result<Vec<(usize, &'a str)>> {
    let mut raw: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    for l in &mut raw {
        if let Some(s) = l.strip_suffix(b"\r") {
            *l = s;
        }
    }
    let Some(last) = raw.iter().rposition(|l| !l.iter().all(u8::is_ascii_whitespace)) else {
        return Err(CoreError::file(path, format!("the file is empty; expected {expected}")));
    };
    raw[..=last]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let err = |message: String| CoreError::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            };
            if l.len() > MAX_LINE_BYTES {
                return Err(err(format!(
                    "line is {} bytes long; the limit is {MAX_LINE_BYTES}",
                    l.len()
                )));
            }
            let text = std::str::from_utf8(l)
                .map_err(|e| err(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
            Ok((i + 1, text))
        })
        .collect()
}

/// Parses one line of a JSON-lines file: an empty line is an error (`expected` says what
/// belongs there), as is invalid JSON; both name `file:line`.
pub fn json_line(
    path: &Path,
    line: usize,
    text: &str,
    expected: &str,
) -> Result<serde_json::Value> {
    if text.trim().is_empty() {
        return Err(line_error(path, line, format!("empty line; expected {expected}")));
    }
    serde_json::from_str(text).map_err(|e| line_error(path, line, format!("invalid JSON: {e}")))
}

/// A `file:line` parse error.
pub fn line_error(path: &Path, line: usize, message: impl Into<String>) -> CoreError {
    CoreError::Parse { path: path.to_path_buf(), line, message: message.into() }
}
