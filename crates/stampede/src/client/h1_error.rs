//! Why an HTTP/1.1 exchange failed, shared by the reader (`h1.rs`) and the framing rules
//! (`framing.rs`), which both raise it.

/// The longest response head read (status line and headers).
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// Why an exchange failed, worded for the failures table.
#[derive(Debug, thiserror::Error)]
pub(crate) enum H1Error {
    /// Writing the request failed.
    #[error("{0}")]
    Write(std::io::Error),
    /// Reading the response failed.
    #[error("{0}")]
    Read(std::io::Error),
    #[error("the server closed the connection without answering")]
    Unanswered,
    #[error("the server closed the connection in the middle of the response head")]
    HeadCut,
    #[error("invalid response head: {0}")]
    BadHead(String),
    #[error("the response head is larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("invalid Content-Length {0:?}")]
    BadLength(String),
    #[error("invalid chunked body: {0}")]
    BadChunk(&'static str),
    #[error("the body ended after {got} of {expected} bytes")]
    Truncated { got: u64, expected: u64 },
    #[error("the connection closed in the middle of a chunked body")]
    ChunkedCut,
}
