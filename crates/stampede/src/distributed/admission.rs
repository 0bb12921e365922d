//! Who may join a master as a worker.
//!
//! A master listens on every interface, as Locust's does, because its workers run on other
//! machines; whatever reaches the port could otherwise take users. Two admissions:
//! - `--allow-workers CIDR,...`: connections from other addresses are closed before the
//!   first ZeroMQ byte (the vendored zeromq's accept filter). Works for Locust workers too.
//! - `--worker-token SECRET`: a Stampede worker sends it in its `client_ready`; a worker
//!   without it (a Locust worker cannot send one) gets no users. The token travels in the
//!   clear, like everything on Locust's protocol: it stops strays and opportunists on the
//!   network, not someone who can read the traffic.
//!
//! Admission belongs to the connection, not to the ZeroMQ identity a peer announces: that
//! is no secret (the UI shows it). Under a token, only the connection whose own
//! `client_ready` carried it is heard or sent to as that worker; any other connection under
//! the same identity has only its `client_ready` decoded, and is closed unless that carries
//! the token, in which case it takes the identity over and the old connection is closed (a
//! worker rebuilds its connection after 5 s of the master's silence). Without a token an
//! identity is all there is, so a new connection under it speaks for it, as with Locust's
//! master. The vendored zeromq's ROUTER tells the connections apart (`vendor/zeromq/PATCH.md`).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmpv::Value;

use super::payload::Ready;

/// An address block, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an address block such as 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (a, b, bits) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (b >> shift)
    }
}

/// The master's admission rules.
#[derive(Clone, Debug, Default)]
pub struct Admission {
    /// The `--worker-token` a worker's `client_ready` must carry, if any.
    pub token: Option<String>,
    /// The `--allow-workers` networks connections may come from (empty: any).
    pub allow: Vec<Cidr>,
}

/// Why a `client_ready` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoToken,
    WrongToken,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::NoToken => "it sent no --worker-token",
            Refusal::WrongToken => "its --worker-token is wrong",
        })
    }
}

impl Admission {
    /// Whether anyone who can reach the port may join (no token, no network list).
    pub fn is_open(&self) -> bool {
        self.token.is_none() && self.allow.is_empty()
    }

    /// The accept filter for the allow-list, if there is one.
    pub fn filter(&self) -> Option<zeromq::AcceptFilter> {
        if self.allow.is_empty() {
            return None;
        }
        let allow = self.allow.clone();
        Some(Arc::new(move |peer: SocketAddr| {
            allow.iter().any(|c| c.contains(peer.ip()))
        }))
    }

    /// What the startup line says about who may join.
    pub fn describe(&self) -> String {
        if self.is_open() {
            return "open to anyone who can reach this port: any peer that says client_ready is given users (set --worker-token or --allow-workers to admit only your workers)".into();
        }
        let mut parts = Vec::new();
        if !self.allow.is_empty() {
            parts.push(format!("from {} address block(s) only", self.allow.len()));
        }
        if self.token.is_some() {
            parts.push("with the worker token only (Locust workers cannot send one)".into());
        }
        format!("admitting workers {}", parts.join(", "))
    }

    /// Checks a `client_ready`'s data against the token.
    pub fn check(&self, ready: &Ready) -> Result<(), Refusal> {
        let Some(want) = &self.token else {
            return Ok(());
        };
        match ready.token() {
            None => Err(Refusal::NoToken),
            Some(t) if constant_time_eq(t.as_bytes(), want.as_bytes()) => Ok(()),
            Some(_) => Err(Refusal::WrongToken),
        }
    }
}

/// Compares without stopping at the first difference, so timing tells nothing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// The version a `client_ready` announces, and whether this master speaks to it: Locust
/// 2.x workers, and Stampede workers (which send -1, as Locust's own development builds
/// do, or a map naming their version).
pub fn version_of(ready: &Ready) -> (String, bool) {
    let named = |s: &str| {
        let s = s.chars().take(64).collect::<String>();
        let ok = s.starts_with("2.") || s.starts_with("stampede/");
        (s, ok)
    };
    match ready {
        Ready::Stampede { version, .. } if version.is_empty() => ("(none)".into(), false),
        Ready::Stampede { version, .. } => named(version),
        Ready::Locust(Value::Integer(i)) if i.as_i64() == Some(-1) => ("-1".into(), true),
        Ready::Locust(Value::String(s)) => named(s.as_str().unwrap_or("")),
        Ready::Locust(other) => (other.to_string().chars().take(64).collect(), false),
    }
}

/// Logs at most one line per `every`, and says how many were held back.
pub struct Throttled {
    every: Duration,
    last: Option<Instant>,
    held: u64,
}

impl Throttled {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            held: 0,
        }
    }

    pub fn warn(&mut self, line: impl FnOnce() -> String) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < self.every)
        {
            self.held += 1;
            return;
        }
        let held = std::mem::take(&mut self.held);
        self.last = Some(now);
        if held > 0 {
            tracing::warn!("{} ({held} more like it held back)", line());
        } else {
            tracing::warn!("{}", line());
        }
    }
}

/// A peer's id for the log: at most 80 characters, control characters escaped, so a
/// hostile identity cannot forge log lines.
pub fn printable(id: &str) -> String {
    id.chars().take(80).flat_map(char::escape_default).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_blocks_match_as_written() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(
            c.contains("::ffff:10.1.0.9".parse().unwrap()),
            "v4-mapped v6"
        );
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("shop.example/8".parse::<Cidr>().is_err());
    }

    #[test]
    fn tokens_and_versions() {
        let a = Admission {
            token: Some("s3cret".into()),
            allow: vec![],
        };
        let ready = |t: &str| Ready::from_value(Value::Map(vec![("token".into(), t.into())]));
        let locust = |v: Value| Ready::from_value(v);
        assert_eq!(a.check(&ready("s3cret")), Ok(()));
        assert_eq!(a.check(&ready("s3cre")), Err(Refusal::WrongToken));
        assert_eq!(a.check(&locust("2.47.0".into())), Err(Refusal::NoToken));
        assert_eq!(
            version_of(&locust("2.47.0".into())),
            ("2.47.0".into(), true)
        );
        assert_eq!(version_of(&locust((-1).into())), ("-1".into(), true));
        assert!(!version_of(&locust("0.0.1-not-a-real-version".into())).1);
    }
}
