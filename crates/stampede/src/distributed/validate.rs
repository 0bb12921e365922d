//! A worker's stats report is checked before it is merged: a crafted one must not corrupt
//! the totals (a fail ratio of 2,247, a total RPS of 4e-16, a p95 of 0.001 ms, a wrapped
//! request count were all seen). A report that fails is dropped whole.

use crate::stats::{EndpointStats, Limits, StatsState};

/// More requests than this in one report (a few seconds of one worker) are a lie: it is
/// a million requests a second for a day.
const MAX_REQUESTS: u64 = 86_400_000_000;
/// The longest response time believed, in ms (a year).
const MAX_RESPONSE_MS: f64 = 365.0 * 86_400_000.0;
/// Start times and per-second keys further than this from the master's clock are not
/// believed (a real worker's clock may be off, but not by days).
const CLOCK_SLACK_S: f64 = 2.0 * 86_400.0;

/// Checks `d` (from `parse_stats`) against the master's caps; fixes what a real worker
/// with a wrong clock may send (start, last-request and per-second times days away from
/// the master's `now` are moved to `now`, the counts kept).
pub fn validate(d: &mut StatsState, limits: &Limits, now: f64) -> Result<(), String> {
    if d.entries.len() > limits.max_names {
        return Err(format!(
            "{} request names, over the cap of {}",
            d.entries.len(),
            limits.max_names
        ));
    }
    let max_errors = limits
        .max_names
        .saturating_mul(limits.max_failure_keys as usize);
    if d.errors.len() > max_errors.max(limits.max_failure_keys as usize) {
        return Err(format!("{} failure keys, over the cap", d.errors.len()));
    }
    let plausible = |t: f64| t.is_finite() && (t - now).abs() <= CLOCK_SLACK_S;
    if !plausible(d.start_time) {
        d.start_time = now;
    }
    for e in d.entries.values_mut() {
        check_entry(e).map_err(|why| format!("entry '{}': {why}", e.name))?;
        if !plausible(e.start_time) {
            e.start_time = d.start_time;
        }
        if e.last_request_timestamp.is_some_and(|t| !plausible(t)) {
            e.last_request_timestamp = Some(now);
        }
        // A worker whose clock is days off still counts: its seconds move to ours.
        for per_sec in [&mut e.reqs_per_sec, &mut e.fails_per_sec] {
            rekey_implausible(per_sec, &plausible, now as u64);
        }
    }
    let total_requests = d
        .entries
        .values()
        .try_fold(0u64, |sum, e| sum.checked_add(e.num_requests))
        .filter(|n| *n <= MAX_REQUESTS)
        .ok_or("more requests than any worker sends")?;
    // The Aggregated row again, from the entries as fixed.
    let mut total = EndpointStats::new("", "Aggregated", d.start_time);
    for e in d.entries.values() {
        total.merge(e);
    }
    total.start_time = d.start_time;
    debug_assert_eq!(total.num_requests, total_requests);
    d.total = total;
    for e in d.errors.values() {
        if e.occurrences > MAX_REQUESTS || !e.first_seen.is_finite() || !e.last_seen.is_finite() {
            return Err(format!(
                "failure '{}' has implausible counts or times",
                e.error
            ));
        }
    }
    Ok(())
}

/// Moves the counts of seconds far from the master's clock to the master's second `now`.
fn rekey_implausible(
    per_sec: &mut std::collections::BTreeMap<u64, u64>,
    plausible: &dyn Fn(f64) -> bool,
    now: u64,
) {
    let far: Vec<u64> = per_sec
        .keys()
        .filter(|s| !plausible(**s as f64))
        .copied()
        .collect();
    for s in far {
        let n = per_sec.remove(&s).unwrap_or(0);
        let c = per_sec.entry(now).or_default();
        *c = c.saturating_add(n);
    }
}

fn check_entry(e: &EndpointStats) -> Result<(), String> {
    if e.num_requests > MAX_REQUESTS {
        return Err(format!("{} requests", e.num_requests));
    }
    if e.num_failures > e.num_requests {
        return Err(format!(
            "{} failures of {} requests",
            e.num_failures, e.num_requests
        ));
    }
    let max_us = (MAX_RESPONSE_MS * 1000.0) as u64;
    if e.max_response_time_us > max_us
        || e.min_response_time_us
            .is_some_and(|m| m > e.max_response_time_us)
        || e.total_response_time_us > max_us.saturating_mul(e.num_requests.max(1))
    {
        return Err("implausible response times".into());
    }
    if e.histogram.len() != e.num_requests {
        return Err(format!(
            "its histogram counts {} responses for {} requests",
            e.histogram.len(),
            e.num_requests
        ));
    }
    if e.histogram.max() > max_us {
        return Err("a response time over a year".into());
    }
    for per_sec in [&e.reqs_per_sec, &e.fails_per_sec] {
        let mut sum = 0u64;
        for n in per_sec.values() {
            sum = sum.checked_add(*n).ok_or("per-second counts overflow")?;
        }
        if sum > e.num_requests {
            return Err("more requests per second than in all".into());
        }
    }
    if e.last_request_timestamp.is_some_and(|t| !t.is_finite()) {
        return Err("a last request time that is not a number".into());
    }
    if e.num_unanswered > MAX_REQUESTS || e.num_hops > MAX_REQUESTS.saturating_mul(21) {
        return Err("implausible unanswered or hop counts".into());
    }
    if e.num_unanswered_mid_body > e.num_unanswered {
        return Err("more unanswered requests mid-body than unanswered ones".into());
    }
    Ok(())
}
