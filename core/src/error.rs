//! The error type shared by everything in `cringe-core`.

use std::path::PathBuf;

/// Anything that can go wrong in the core: bad input files, bad configs, I/O, tokenizer failures.
///
/// Every variant that concerns a file names it, and where it makes sense the line and field,
/// so a user can go straight to what needs fixing.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A line of an input file is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file being read.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A whole file is unusable (empty, wrong format, unreadable).
    #[error("{path}: {message}")]
    File {
        /// The file concerned.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    Config(String),
    /// The tokenizer library reported an error.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A tensor or shape precondition was violated by the caller.
    #[error("{0}")]
    Invalid(String),
    /// An I/O error, with the path it concerned.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result alias for core operations.
pub type Result<T> = std::result::Result<T, CoreError>;

impl CoreError {
    /// Wraps an I/O error with the path it concerned.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io { path: path.into(), source }
    }

    /// A whole-file error.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        CoreError::File { path: path.into(), message: message.into() }
    }
}
