//! Stats in Locust's shape: the entries of `--json` and of the distributed `stats` message.
//! Response times become Locust's rounded buckets here, and only here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::entry::{locust_bucket, EndpointStats};
use super::state::ErrorStats;

/// Locust's `StatsEntry.serialize()`: one entry as Locust's master, worker and `--json`
/// read it (times in ms). Fields are in alphabetical order, the order every encoder of
/// ours has written them in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocustEntry {
    pub last_request_timestamp: Option<f64>,
    pub max_response_time: f64,
    /// `None` for the Aggregated row, as Locust's.
    pub method: Option<String>,
    pub min_response_time: Option<f64>,
    pub name: String,
    #[serde(default)]
    pub num_fail_per_sec: IntMap,
    pub num_failures: u64,
    #[serde(default)]
    pub num_none_requests: u64,
    #[serde(default)]
    pub num_reqs_per_sec: IntMap,
    pub num_requests: u64,
    /// Locust's rounded buckets (ms) and their counts.
    #[serde(default)]
    pub response_times: IntMap,
    pub start_time: f64,
    #[serde(default)]
    pub total_content_length: u64,
    pub total_response_time: f64,
}

impl LocustEntry {
    /// Response times become Locust's rounded buckets here, and only here.
    pub fn of(e: &EndpointStats) -> Self {
        let mut buckets: BTreeMap<u64, u64> = BTreeMap::new();
        for v in e.histogram.iter_recorded() {
            let ms = e.histogram.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0;
            *buckets
                .entry(locust_bucket(ms.min(e.max_ms())))
                .or_default() += v.count_at_value();
        }
        let aggregated = e.name == "Aggregated" && e.method.is_empty();
        Self {
            last_request_timestamp: e.last_request_timestamp,
            max_response_time: e.max_ms(),
            method: (!aggregated).then(|| e.method.clone()),
            min_response_time: e.min_response_time_us.map(|v| v as f64 / 1000.0),
            name: e.name.clone(),
            num_fail_per_sec: IntMap(e.fails_per_sec.clone()),
            num_failures: e.num_failures,
            num_none_requests: 0,
            num_reqs_per_sec: IntMap(e.reqs_per_sec.clone()),
            num_requests: e.num_requests,
            response_times: IntMap(buckets),
            start_time: e.start_time,
            total_content_length: e.total_content_length,
            total_response_time: e.total_response_time_us as f64 / 1000.0,
        }
    }

    /// Back into stats. Response times come from Locust's buckets unless `exact`, when the
    /// caller fills in an exact histogram instead. Checking the values is the caller's job.
    pub fn into_stats(self, exact: bool) -> EndpointStats {
        let ms_to_us = |ms: f64| (ms * 1000.0) as u64;
        let mut e = EndpointStats::new(
            self.method.as_deref().unwrap_or(""),
            &self.name,
            self.start_time,
        );
        e.num_requests = self.num_requests;
        e.num_failures = self.num_failures;
        e.total_response_time_us = ms_to_us(self.total_response_time);
        e.max_response_time_us = ms_to_us(self.max_response_time);
        e.min_response_time_us = self.min_response_time.map(ms_to_us);
        e.total_content_length = self.total_content_length;
        if !exact {
            for (ms, count) in self.response_times.0 {
                let _ = e.histogram.record_n(ms.saturating_mul(1000), count);
            }
        }
        e.reqs_per_sec = self.num_reqs_per_sec.0;
        e.fails_per_sec = self.num_fail_per_sec.0;
        e.last_request_timestamp = self.last_request_timestamp;
        e
    }
}

/// `--json`'s entry: [`LocustEntry`] as JSON.
pub fn locust_entry(e: &EndpointStats) -> Value {
    serde_json::to_value(LocustEntry::of(e)).expect("an entry is plain data")
}

/// A map from whole numbers (a bucket in ms, a Unix second) to counts. Read leniently, as
/// Locust's own encoders differ: a key may come as an integer, a float (`round(x, -1)`
/// of a float is a float in Python) or a numeric string; an entry that is none of these,
/// or whose count is not a count, is left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntMap(pub BTreeMap<u64, u64>);

impl Serialize for IntMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for IntMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = IntMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of whole numbers to counts")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<IntMap, E> {
                Ok(IntMap::default())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<IntMap, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = m.next_entry::<Lenient, Lenient>()? {
                    if let (Some(k), Lenient::Int(v)) = (k.whole(), v) {
                        let n: &mut u64 = out.entry(k).or_default();
                        *n = n.saturating_add(v);
                    }
                }
                Ok(IntMap(out))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A key or count as some encoder wrote it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient {
    Int(u64),
    Float(f64),
    Text(String),
    Other(serde::de::IgnoredAny),
}

impl Lenient {
    fn whole(&self) -> Option<u64> {
        match self {
            Lenient::Int(n) => Some(*n),
            Lenient::Float(f) if f.is_finite() && *f >= 0.0 => Some(*f as u64),
            Lenient::Text(t) => t.parse().ok(),
            _ => None,
        }
    }
}

/// Locust's `StatsError.serialize()`, fields in alphabetical order. Locust's own lack
/// the times; a missing field reads as empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LocustError {
    pub error: String,
    pub first_seen: f64,
    pub last_seen: f64,
    pub method: String,
    pub name: String,
    pub occurrences: u64,
}

impl LocustError {
    pub fn of(e: &ErrorStats) -> Self {
        Self {
            error: e.error.clone(),
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            method: e.method.clone(),
            name: e.name.clone(),
            occurrences: e.occurrences,
        }
    }

    pub fn into_stats(self) -> ErrorStats {
        ErrorStats {
            method: self.method,
            name: self.name,
            error: self.error,
            occurrences: self.occurrences,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        }
    }
}
