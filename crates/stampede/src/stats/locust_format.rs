//! Stats in Locust's shape: the entries of `--json` and of the distributed `stats` message.
//! Response times become Locust's rounded buckets here, and only here.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::entry::{locust_bucket, EndpointStats};
use super::state::ErrorStats;

/// Locust's `StatsEntry.serialize()` for one entry (times in ms).
pub fn locust_entry(e: &EndpointStats) -> Value {
    let mut buckets: BTreeMap<u64, u64> = BTreeMap::new();
    for v in e.histogram.iter_recorded() {
        let ms = e.histogram.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0;
        *buckets
            .entry(locust_bucket(ms.min(e.max_ms())))
            .or_default() += v.count_at_value();
    }
    let method: Value = if e.name == "Aggregated" && e.method.is_empty() {
        Value::Null
    } else {
        json!(e.method)
    };
    json!({
        "name": e.name,
        "method": method,
        "last_request_timestamp": e.last_request_timestamp,
        "start_time": e.start_time,
        "num_requests": e.num_requests,
        "num_none_requests": 0,
        "num_failures": e.num_failures,
        "total_response_time": e.total_response_time_us as f64 / 1000.0,
        "max_response_time": e.max_ms(),
        "min_response_time": e.min_response_time_us.map(|v| v as f64 / 1000.0),
        "total_content_length": e.total_content_length,
        "response_times": buckets,
        "num_reqs_per_sec": e.reqs_per_sec,
        "num_fail_per_sec": e.fails_per_sec,
    })
}

/// Locust's `StatsError.serialize()`.
pub fn locust_error(e: &ErrorStats) -> Value {
    json!({
        "name": e.name,
        "method": e.method,
        "error": e.error,
        "occurrences": e.occurrences,
        "first_seen": e.first_seen,
        "last_seen": e.last_seen,
    })
}
