//! What this process can hold: its open-file limit, raised to the hard limit at start, and
//! the memory available. Each user holds a connection (a descriptor) per host and some
//! memory, so the user count is capped by both, unless `--user-limit` says otherwise; a
//! request for ten million users then starts as many as fit, says so, and the UI stays up.

use std::sync::OnceLock;

/// Descriptors kept for everything that is not a user: the UI, the master's sockets,
/// report files, DNS.
const RESERVED_FDS: u64 = 256;
/// What a user's cookies may hold: its jar, and the `Cookie` headers made of it
/// (client/cookies.rs counts each cookie as stored and again as its text in a header).
/// Room for a browser's 180 cookies when they are small; of 4 KB cookies, eleven (a 43 KB
/// header, where nginx, Apache and gunicorn refuse a header line over 8 KB by default).
pub const COOKIE_BUDGET: usize = 96 * 1024;
/// Memory set aside per user for the cap: an idle user takes about 18-26 KB (bench/memory),
/// a busy one with a 100 KB page and its parsed form several times that; and its cookies,
/// up to their budget.
const BYTES_PER_USER: u64 = 200 * 1024 + COOKIE_BUDGET as u64;

/// Raises the soft open-file limit to the hard limit, once; the limit now in force.
pub fn raise_nofile() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024))
}

/// The most users this process should run: `--user-limit` if given, else what the
/// open-file limit and the available memory allow.
pub fn user_limit(explicit: Option<u64>) -> u64 {
    if let Some(n) = explicit {
        return n;
    }
    let by_fds = raise_nofile().saturating_sub(RESERVED_FDS).max(1);
    match mem_available() {
        Some(bytes) => by_fds.min((bytes / BYTES_PER_USER).max(1)),
        None => by_fds,
    }
}

/// `MemAvailable` from /proc/meminfo, in bytes.
fn mem_available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The message for a request of `asked` users capped at `limit`.
pub fn capped_message(asked: u64, limit: u64) -> String {
    format!(
        "{asked} users asked for, capped at {limit}: the most this process can hold with its open-file limit and memory (--user-limit N sets the cap)"
    )
}
