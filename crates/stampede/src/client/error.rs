//! Why a request failed, named by the phase it failed in, so a failures table tells a DNS
//! problem from a refused port, a slow TLS handshake or a server that went quiet.

use std::fmt;
use std::time::Duration;

/// Where in its life a request was when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    /// Looking the host name up.
    Dns,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// Writing the request; nothing has reached the socket yet.
    Send,
    /// The request is written; no complete response head has come back.
    Headers,
    /// Reading the body; the head had come.
    Body,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Dns => "resolving the host name",
            Phase::Connect => "connecting",
            Phase::Tls => "doing the TLS handshake",
            Phase::Send => "sending the request",
            Phase::Headers => "waiting for the response headers",
            Phase::Body => "reading the response body",
        })
    }
}

/// Why a request produced no usable response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL: {0}")]
    /// The URL could not be built from the base and the path.
    Url(String),
    /// A limit ran out (`--connect-timeout`, `--request-timeout`, or a plan's own).
    #[error("timed out after {} {phase} ({target}){}", humantime::format_duration(*after), still_arriving(*arrived))]
    Timeout {
        /// Where the request was.
        phase: Phase,
        /// The limit that ran out.
        after: Duration,
        /// `host:port`.
        target: String,
        /// Reading a body: the response bytes that had come by then. A body that never
        /// ends is then told from a server that never answered.
        arrived: Option<u64>,
    },
    /// The network or the server ended the exchange.
    #[error("failed while {phase} ({target}): {detail}")]
    Failed {
        /// Where the request was.
        phase: Phase,
        /// `host:port`.
        target: String,
        /// What the network or the server did.
        detail: String,
    },
    /// A request that is not safe to repeat was written on a kept-alive connection that the
    /// server closed without a response byte: it may or may not have been processed.
    #[error(
        "server closed the kept-alive connection before answering (request not retried: {method})"
    )]
    StaleNotRetried {
        /// The request's method.
        method: String,
    },
    #[error("too many redirects (more than {0})")]
    /// Redirects followed past the limit (20, as requests allows 30).
    TooManyRedirects(usize),
    #[error("could not encode the request body: {0}")]
    /// A JSON body that would not serialise.
    Body(String),
    /// A header name or value HTTP does not allow (a newline in a value, a space in a name).
    #[error("invalid header {name}: {value:?} is not a valid header {what}")]
    Header {
        /// The header's name, as given.
        name: String,
        /// Its value, as given.
        value: String,
        /// Which of the two HTTP refuses: `name` or `value`.
        what: &'static str,
    },
}

impl ClientError {
    pub(crate) fn failed(phase: Phase, target: &str, detail: impl fmt::Display) -> Self {
        ClientError::Failed {
            phase,
            target: target.to_owned(),
            detail: detail.to_string(),
        }
    }

    /// The phase a timeout or a network failure happened in.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            ClientError::Timeout { phase, .. } | ClientError::Failed { phase, .. } => Some(*phase),
            _ => None,
        }
    }
}

/// The end of a body timeout's message: what had come, and that it had not stopped.
fn still_arriving(arrived: Option<u64>) -> String {
    match arrived {
        Some(n) => format!(
            ": the response was still arriving at the timeout ({n} bytes so far; a response keeps at most --max-body bytes, the rest is read and dropped)"
        ),
        None => String::new(),
    }
}

/// A TLS failure, with the way out when it is the certificate that was refused.
pub(crate) fn tls_detail(e: &std::io::Error) -> String {
    let certificate = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
    if certificate {
        format!("{e}; for a self-signed or private certificate pass --insecure, or --ca-cert PATH to trust its CA")
    } else {
        e.to_string()
    }
}
