//! Connections: one keep-alive HTTP/1.1 connection per origin per user, like a browser tab
//! that never opens a second socket. The user's own task reads and writes it (`h1.rs`):
//! there is no pool, no lock and no cross-thread hop between a user and its socket.
//!
//! A kept-alive connection is only reused after its socket has been looked at, without
//! waiting (`io::peek`): a close the server already sent (nginx's `keepalive_timeout`,
//! uvicorn's and Node's 5 s, a server that closes after every answer) is seen then, and the
//! request goes out on a new connection instead of into a dead socket; bytes the server
//! wrote unasked (a late `500`) end the connection, so that no request takes them for its
//! answer. Bytes that arrive after the request went out cannot be told from its answer.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;
use url::Url;

use super::error::{tls_detail, ClientError, Phase};
use super::h1::{self, BodySink, H1Error, Head, H1};
use super::io::{self as sock, Counted, Heard, IoCounters};
use super::stamp::{realtime_ns, StampedTcp, Stamps};
use super::ClientConfig;

/// Scheme, host and port: what a connection is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &Url) -> Result<Self, ClientError> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(ClientError::Url(format!(
                    "unsupported scheme '{other}' in {url}"
                )))
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| ClientError::Url(format!("no host in {url}")))?;
        let port = url
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        Ok(Self {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        })
    }

    /// `host:port`, for messages.
    pub fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// `--resolve HOST:PORT:ADDR`: connect to `addr` whenever `host:port` is asked for, as curl
/// does; no DNS lookup is made for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub addr: IpAddr,
}

impl FromStr for Resolve {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not HOST:PORT:ADDR (shop.example:443:127.0.0.1)");
        let (host, rest) = s.split_once(':').ok_or_else(bad)?;
        let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        let port = port
            .parse()
            .map_err(|_| format!("'{port}' in '{s}' is not a port"))?;
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr = addr
            .parse()
            .map_err(|_| format!("'{addr}' in '{s}' is not an IP address"))?;
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
            addr,
        })
    }
}

/// How long before a server's announced `Keep-Alive: timeout` the connection is given up:
/// a request sent just as the server closes would be lost in the race.
const KEEP_ALIVE_MARGIN: Duration = Duration::from_millis(500);

/// A close found on a connection idle for less than this is a server that hangs up right
/// after answering without saying so: its close may cross any request sent soon after an
/// answer, so its POSTs and PATCHes always get a fresh connection. A close found after a
/// longer idle is an idle timeout (nginx's `keepalive_timeout`, gunicorn's 2 s), learned
/// per origin and kept away from by [`may_risk_unrepeatable`].
pub(crate) const FRESH_FOR_UNSAFE_AFTER: Duration = Duration::from_secs(1);

/// Whether a request that cannot be repeated safely (POST, PATCH) may go out on a healthy
/// connection idle for `idle`, when this server was seen to close idle connections after
/// `closes_after` (the shortest such idle seen, if any).
///
/// The check before reuse sees a close that has arrived; one the server sends just as the
/// request leaves cannot be seen in time, and such a request cannot be sent again, as the
/// server might have acted on it (browsers resend it; we avoid the race). The race exists
/// only near the server's idle timeout. A close is found when the user comes back, not
/// when the server made it, so the timeout lies somewhere below the shortest idle found
/// closed: a POST is kept off a connection idle for half of that or more. Until a server
/// has shown a timeout, its connections are reused, as requests and browsers reuse them.
/// (The rule before this one sent every POST idle for a second on a new connection: 73-82
/// connections for 20 users in 30 s, where requests opens 20.)
pub(crate) fn may_risk_unrepeatable(idle: Duration, closes_after: Option<Duration>) -> bool {
    closes_after.is_none_or(|d| idle < d / 2)
}

/// An open connection.
pub(crate) struct Conn {
    pub origin: Arc<Origin>,
    h1: H1,
    /// The TCP socket under `h1`'s stream (and under TLS), looked at before reuse. Owned
    /// by that stream: open for as long as this connection is.
    socket: RawFd,
    /// An exchange began and did not finish (its request was dropped mid-way): what is
    /// left of it on the wire makes the connection unusable.
    busy: bool,
    pub io: Arc<IoCounters>,
    idle_since: Instant,
    /// The server's `Keep-Alive: timeout=N`.
    keep_alive: Option<Duration>,
    /// The server said `Connection: close`.
    closing: bool,
    /// The kernel's timestamps of this connection's requests and responses.
    pub stamps: Arc<Stamps>,
    /// How long opening it took, phase by phase.
    pub setup: Setup,
}

/// The time a new connection took to open: DNS, TCP connect and TLS handshake (monotonic
/// clock), and when it began on the kernel timestamps' clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Setup {
    pub began_ns: u64,
    pub dns: Duration,
    pub connect: Duration,
    pub tls: Duration,
}

/// A connection's state before it is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Open {
        idle: Duration,
    },
    /// Closed, or about to be. `said`: the server announced it (`Connection: close`,
    /// `Keep-Alive: timeout`), rather than just hanging up.
    Closed {
        idle: Duration,
        said: bool,
    },
    /// The server wrote something nobody asked for (a late answer): the connection is out
    /// of step and is not used again.
    Unasked,
}

/// A response body as far as a plan may read it.
pub(crate) struct Body {
    pub kept: Bytes,
    /// Every body byte that arrived, kept or not.
    pub total: u64,
}

impl Conn {
    /// Opens a connection to `origin`: DNS (or `--resolve`), TCP, then TLS for https, all
    /// within the connect timeout. `phase` follows along for the caller's own timeout.
    pub async fn open(
        origin: Arc<Origin>,
        cfg: &ClientConfig,
        phase: &mut Phase,
    ) -> Result<Conn, ClientError> {
        let limit = cfg.connect_timeout;
        let timed_out = |phase| ClientError::Timeout {
            phase,
            after: limit,
            target: origin.target(),
            arrived: None,
        };
        let began = Instant::now();
        let mut setup = Setup {
            began_ns: realtime_ns(),
            ..Setup::default()
        };
        let deadline = began + limit;
        *phase = Phase::Dns;
        let addrs = tokio::time::timeout_at(deadline, resolve(&origin, cfg))
            .await
            .map_err(|_| timed_out(Phase::Dns))??;
        let resolved = Instant::now();
        setup.dns = resolved - began;
        *phase = Phase::Connect;
        let tcp = tokio::time::timeout_at(deadline, connect_any(&origin, &addrs))
            .await
            .map_err(|_| timed_out(Phase::Connect))??;
        let connected = Instant::now();
        setup.connect = connected - resolved;
        let _ = tcp.set_nodelay(true);
        let socket = tcp.as_raw_fd();
        let stamps = Arc::new(Stamps::default());
        let tcp = StampedTcp::new(tcp, stamps.clone())
            .map_err(|e| ClientError::failed(Phase::Connect, &origin.target(), e.to_string()))?;
        let io = Arc::new(IoCounters::default());
        let stream: Box<dyn h1::Io> = if origin.tls {
            *phase = Phase::Tls;
            let name = ServerName::try_from(origin.host.clone()).map_err(|e| {
                ClientError::failed(
                    Phase::Tls,
                    &origin.target(),
                    format!("bad server name: {e}"),
                )
            })?;
            let handshake = tokio_rustls::TlsConnector::from(cfg.tls.clone()).connect(name, tcp);
            let stream = tokio::time::timeout_at(deadline, handshake)
                .await
                .map_err(|_| timed_out(Phase::Tls))?
                .map_err(|e| ClientError::failed(Phase::Tls, &origin.target(), tls_detail(&e)))?;
            setup.tls = connected.elapsed();
            Box::new(Counted::new(stream, io.clone()))
        } else {
            Box::new(Counted::new(tcp, io.clone()))
        };
        Ok(Conn {
            origin,
            h1: H1::new(stream),
            socket,
            busy: false,
            io,
            idle_since: Instant::now(),
            keep_alive: None,
            closing: false,
            stamps,
            setup,
        })
    }

    /// Whether this connection can take another request, and how long it has been idle.
    /// Looks at its socket without waiting, so that a close the server has already sent,
    /// or an answer nobody asked for, is seen before anything is written.
    pub fn health(&mut self) -> Health {
        let idle = self.idle_since.elapsed();
        if self.closing {
            return Health::Closed { idle, said: true };
        }
        if let Some(ka) = self.keep_alive {
            if idle + KEEP_ALIVE_MARGIN >= ka {
                return Health::Closed { idle, said: true };
            }
        }
        if self.busy {
            // Abandoned mid-exchange by us, not closed by the server.
            return Health::Closed { idle, said: true };
        }
        match sock::peek(self.socket) {
            Heard::End => Health::Closed { idle, said: false },
            // Under TLS, bytes on the socket are most often the server's `close_notify`
            // before its close: TLS 1.3 encrypts it, so it cannot be told from data there.
            Heard::Data if self.origin.tls => Health::Closed { idle, said: false },
            Heard::Data => unasked(&self.origin),
            Heard::Nothing => match self.h1.leftover() {
                Heard::Nothing => Health::Open { idle },
                Heard::End => Health::Closed { idle, said: false },
                Heard::Data => unasked(&self.origin),
            },
        }
    }

    /// The last answer ended this connection (`Connection: close`, a body delimited by the
    /// close, an HTTP/1.0 answer without keep-alive).
    pub fn closing(&self) -> bool {
        self.closing
    }

    /// Sends a request and reads its answer's head.
    pub async fn send(
        &mut self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: &Bytes,
    ) -> Result<Head, H1Error> {
        self.busy = true;
        self.h1.write_request(method, uri, headers, body).await?;
        self.h1.read_head(method).await
    }

    /// Reads the body: up to `max` bytes kept, the rest counted and dropped. Notes what the
    /// response says about the connection's future.
    pub async fn read_body(&mut self, head: &Head, max: usize) -> Result<Body, H1Error> {
        let mut sink = Sink::new(max);
        self.h1.read_body(head.framing, &mut sink).await?;
        self.busy = false;
        self.h1.shrink();
        self.idle_since = Instant::now();
        self.closing |= !head.reusable;
        if let Some(ka) = head.keep_alive {
            self.keep_alive = Some(ka);
        }
        Ok(sink.finish())
    }
}

/// Keeps the first chunk as it came (no copy for the usual one-chunk body), and copies
/// later ones only up to the cap.
struct Sink {
    first: Option<Bytes>,
    rest: BytesMut,
    total: u64,
    max: usize,
}

impl BodySink for Sink {
    fn take(&mut self, buf: &mut BytesMut, n: usize) {
        self.total += n as u64;
        let keep = n.min(self.max.saturating_sub(self.kept()));
        if keep > 0 {
            self.keep(buf.split_to(keep).freeze());
        }
        buf.advance(n - keep);
    }
}

impl Sink {
    fn new(max: usize) -> Self {
        Self {
            first: None,
            rest: BytesMut::new(),
            total: 0,
            max,
        }
    }

    /// Bytes kept so far: once a second chunk came, `rest` holds the first one too.
    fn kept(&self) -> usize {
        match self.rest.len() {
            0 => self.first.as_ref().map_or(0, Bytes::len),
            n => n,
        }
    }

    fn keep(&mut self, data: Bytes) {
        match &self.first {
            None => self.first = Some(data),
            Some(first) => {
                if self.rest.is_empty() {
                    self.rest.extend_from_slice(first);
                }
                self.rest.extend_from_slice(&data);
            }
        }
    }

    fn finish(self) -> Body {
        let kept = if self.rest.is_empty() {
            self.first.unwrap_or_default()
        } else {
            self.rest.freeze()
        };
        Body {
            kept,
            total: self.total,
        }
    }
}

/// A connection its server wrote on unasked; said once per process.
fn unasked(origin: &Origin) -> Health {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            "{} wrote on an idle keep-alive connection, unasked (a late or extra answer): such a connection is closed and the next request goes out on a new one",
            origin.target()
        );
    }
    Health::Unasked
}

async fn resolve(origin: &Origin, cfg: &ClientConfig) -> Result<Vec<SocketAddr>, ClientError> {
    if let Some(pin) = cfg
        .resolve
        .iter()
        .find(|r| r.port == origin.port && r.host.eq_ignore_ascii_case(&origin.host))
    {
        return Ok(vec![SocketAddr::new(pin.addr, origin.port)]);
    }
    if let Ok(ip) = origin.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, origin.port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((origin.host.as_str(), origin.port))
        .await
        .map_err(|e| ClientError::failed(Phase::Dns, &origin.target(), e))?
        .collect();
    if found.is_empty() {
        return Err(ClientError::failed(
            Phase::Dns,
            &origin.target(),
            "the name has no addresses",
        ));
    }
    Ok(found)
}

/// Tries each address in turn, as `TcpStream::connect` does, keeping the last error.
async fn connect_any(origin: &Origin, addrs: &[SocketAddr]) -> Result<TcpStream, ClientError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) if addrs.len() == 1 => last = Some(e.to_string()),
            Err(e) => last = Some(format!("{addr}: {e}")),
        }
    }
    Err(ClientError::failed(
        Phase::Connect,
        &origin.target(),
        last.unwrap_or_else(|| "no address to connect to".into()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_keeps_clear_of_an_idle_timeout_only_once_one_was_seen() {
        let s = Duration::from_secs_f64;
        // Nothing seen: the check before reuse decides, as in requests.
        assert!(may_risk_unrepeatable(s(30.0), None));
        // nginx's 2 s, found after a pause of 2.6 s: the timeout is below 2.6 s.
        assert!(may_risk_unrepeatable(s(1.1), Some(s(2.6))));
        assert!(!may_risk_unrepeatable(s(1.3), Some(s(2.6))));
        assert!(!may_risk_unrepeatable(s(2.0), Some(s(2.6))));
    }
}
