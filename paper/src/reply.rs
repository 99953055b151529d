//! One answer of the paper exchange before it becomes an `http::Response`.

use super::wire::Obj;

/// A status and a JSON body, plus the headers particular to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    /// `Retry-After` in seconds (429 and 418).
    pub(crate) retry_after: Option<u64>,
    /// Binance's error code, when this is an error.
    code: Option<i32>,
}

impl Reply {
    /// A 200 with `body`.
    pub(crate) fn ok(body: String) -> Self {
        Self { status: 200, body, retry_after: None, code: None }
    }

    /// An error body `{"code":..,"msg":..}`.
    pub(crate) fn error(status: u16, code: i32, msg: &str) -> Self {
        let body = Obj::new().int("code", i64::from(code)).str("msg", msg).finish();
        Self { status, body, retry_after: None, code: Some(code) }
    }

    /// The same reply with another body (an error's with its `data`).
    pub(crate) fn with_body(mut self, body: String) -> Self {
        self.body = body;
        self
    }

    /// The same reply with a `Retry-After`.
    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Binance's error code, if this is an error.
    #[cfg(test)]
    pub(crate) fn code(&self) -> Option<i32> {
        self.code
    }

    /// Whether the request succeeded.
    pub(crate) fn is_ok(&self) -> bool {
        self.status == 200
    }
}
