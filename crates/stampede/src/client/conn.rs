//! Connections: one keep-alive HTTP/1.1 connection per origin per user, like a browser tab
//! that never opens a second socket. The user's own task reads and writes it (`h1.rs`):
//! there is no pool, no lock and no cross-thread hop between a user and its socket.
//!
//! A kept-alive connection is only reused after it has been polled once, without waiting:
//! a close the server already sent (nginx's `keepalive_timeout`, uvicorn's and Node's 5 s,
//! a server that closes after every answer) is seen then, and the request goes out on a
//! new connection instead of into a dead socket.

use std::net::{IpAddr, SocketAddr};
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
use super::io::{Counted, IoCounters};
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

/// A request that cannot be repeated safely (POST, PATCH) goes out on a fresh connection
/// once its connection has been idle this long. A server that closes idle connections
/// (nginx's `keepalive_timeout`, gunicorn's 2 s) may do so just as the request is written;
/// that close cannot be seen in time, and such a request cannot be sent again, because the
/// server might have acted on it. Browsers resend it; we avoid the race instead.
pub(crate) const FRESH_FOR_UNSAFE_AFTER: Duration = Duration::from_secs(1);

/// An open connection.
pub(crate) struct Conn {
    pub origin: Arc<Origin>,
    h1: H1,
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
    /// Polls it once without waiting, so that a close the server has already sent is seen
    /// before anything is written.
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
        if self.h1.finished() {
            return Health::Closed { idle, said: false };
        }
        Health::Open { idle }
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
