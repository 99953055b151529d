//! `DecodeError`: why a payload from the exchange could not be decoded.
//!
//! Shared by every decoder in the crate (exchangeInfo now; REST responses and stream frames
//! later). It is `Clone + PartialEq` so tests can assert the exact error, which is why it keeps
//! serde_json's message as text rather than the error value.

/// Why a payload could not be decoded. Never a panic: every malformed input ends here.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or JSON nested deeper than the parser allows.
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// Valid JSON of the wrong shape (a field missing or of the wrong type).
    #[error("unexpected shape at `{path}`: expected {expected}")]
    Shape {
        /// Where in the document, e.g. `symbols[3].filters[1].minQty`.
        path: String,
        /// What was expected there.
        expected: &'static str,
    },
}

impl From<serde_json::Error> for DecodeError {
    fn from(e: serde_json::Error) -> Self {
        DecodeError::Json { line: e.line(), column: e.column(), message: e.to_string() }
    }
}
