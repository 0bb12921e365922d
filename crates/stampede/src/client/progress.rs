//! How far the request in flight has got.

use std::sync::Arc;
use std::time::Duration;

use super::conn::{Origin, Setup};
use super::io::{IoCounters, IoMark};
use super::Phase;
use crate::stats::Timing;

/// How far the request in flight has got: read when its time runs out (to name the phase)
/// and when it is abandoned at the end of a run (to count it as unanswered).
#[derive(Default)]
pub(crate) struct Progress {
    pub phase: Phase,
    /// Responses received so far: each is one hit in the server's log.
    pub answered: u32,
    /// Sends written on a connection that turned out closed, then sent again: the server
    /// may or may not have logged them.
    pub resent: u32,
    /// The connection of the hop in flight, and its byte counts when the hop began.
    pub hop: Option<(Arc<IoCounters>, IoMark)>,
    pub origin: Option<Arc<Origin>>,
    /// The request's start on the kernel timestamps' clock (0: not yet): when its first
    /// connection began opening, or else its first write.
    pub began_ns: u64,
    /// A hop went over a connection the kernel does not stamp: time it in user space.
    pub unstamped: bool,
    /// The last answered hop's (write, first byte, last byte) on the kernel's clock.
    pub stamps: Option<(u64, u64, u64)>,
    /// Connections opened for this request, and what opening them took.
    pub opened: u32,
    pub setup: Setup,
}

impl Progress {
    /// Whether the hop in flight has written anything: it has left the machine.
    pub fn hop_written(&self) -> bool {
        self.hop
            .as_ref()
            .is_some_and(|(io, mark)| io.since(*mark).written > 0)
    }

    /// Server hits so far, the hop in flight included once it was written.
    pub fn hits(&self) -> u32 {
        self.answered + u32::from(self.hop_written())
    }

    /// While a body is being read: the response bytes (head included) that had arrived on
    /// its hop, to say that a timed-out body was still arriving, not absent.
    pub fn body_arrived(&self) -> Option<u64> {
        let (io, mark) = self.hop.as_ref().filter(|_| self.phase == Phase::Body)?;
        Some(io.since(*mark).read)
    }

    /// The phase to name when time runs out: a written request waits for its answer.
    pub fn timeout_phase(&self) -> Phase {
        match self.phase {
            Phase::Send if self.hop_written() => Phase::Headers,
            p => p,
        }
    }

    /// A new connection was opened for this request.
    pub(super) fn opened(&mut self, setup: Setup) {
        if self.began_ns == 0 {
            self.began_ns = setup.began_ns;
        }
        self.opened += 1;
        self.setup.dns += setup.dns;
        self.setup.connect += setup.connect;
        self.setup.tls += setup.tls;
    }

    /// The response time on the kernel's clock (last byte in, less the start), when every
    /// hop was stamped; `None` sends the caller to its monotonic measurement.
    pub fn kernel_elapsed(&self) -> Option<Duration> {
        let (sent, _, last) = self.stamps?;
        let valid = !self.unstamped && self.began_ns > 0 && sent > 0 && last >= sent;
        valid.then(|| Duration::from_nanos(last.saturating_sub(self.began_ns)))
    }

    /// When the request completed, in unix seconds: its last bytes' arrival when the kernel
    /// timed it, so it counts in the second it really completed.
    pub fn completed_at(&self, kernel: bool) -> f64 {
        match self.stamps {
            Some((_, _, last)) if kernel => last as f64 / 1e9,
            _ => crate::stats::unix_now(),
        }
    }

    pub fn timing(&self, kernel: bool) -> Timing {
        let us = |d: Duration| d.as_micros() as u64;
        Timing {
            kernel,
            opened: self.opened,
            dns_us: us(self.setup.dns),
            connect_us: us(self.setup.connect),
            tls_us: us(self.setup.tls),
            ttfb_us: self
                .stamps
                .filter(|(sent, first, _)| kernel && *first >= *sent && *sent > 0)
                .map(|(sent, first, _)| (first - sent) / 1000),
        }
    }

    pub fn target(&self) -> String {
        self.origin
            .as_ref()
            .map_or_else(String::new, |o| o.target())
    }
}
