//! Distributed mode on Locust's master/worker protocol: ZeroMQ ROUTER/DEALER carrying
//! msgpack `[type, data, node_id]` messages, so Stampede workers join Locust masters.

mod admission;
mod master;
mod message;
mod payload;
mod validate;
mod wire;
mod worker;

pub use admission::{Admission, Cidr};
pub use master::WorkerInfo;
pub(crate) use master::{spawn_master, MasterSetup};
pub use message::{FrameError, Message, WorkerState, MAX_FRAME};
pub use payload::{ParsedOptions, Payload, Report};
pub use wire::stats_payload;
pub use worker::WorkerSettings;
pub(crate) use worker::{run_worker, Rebuild};

/// `<hostname>_<32 hex>`, the node id Locust masters expect (they group by the hostname).
pub fn node_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "stampede".to_owned()
    } else {
        host
    };
    format!("{host}_{}", uuid::Uuid::new_v4().simple())
}

/// This process's CPU share and memory, for heartbeats (Linux `/proc`; zero elsewhere).
pub(crate) struct ProcessMeter {
    last: Option<(std::time::Instant, u64)>,
}

impl ProcessMeter {
    pub fn new() -> Self {
        Self { last: None }
    }

    /// (CPU percent since the last sample, resident bytes).
    pub fn sample(&mut self) -> (f64, u64) {
        let ticks = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1;
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        let rss = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0)
            * 4096;
        let now = std::time::Instant::now();
        let cpu = match self.last {
            // Linux reports CPU time in 100ths of a second (USER_HZ).
            Some((t, prev)) => {
                (ticks.saturating_sub(prev)) as f64
                    / 100.0
                    / now.duration_since(t).as_secs_f64().max(1e-3)
                    * 100.0
            }
            None => 0.0,
        };
        self.last = Some((now, ticks));
        (cpu, rss)
    }
}
