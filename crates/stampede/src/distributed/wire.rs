//! Statistics on the wire: Locust's `stats` report (entries with bucketed response times,
//! deltas since the last report), plus Stampede's extension carrying the exact HDR
//! histograms, sent only to a master that announced it understands them.

use rmpv::Value;

use super::message::{get, map};
use crate::stats::generator::GeneratorReport;
use crate::stats::{locust_entry, locust_error, EndpointStats, StatsState};

/// The key under which Stampede nodes exchange exact histograms.
pub const HDR_KEY: &str = "stampede_hdr";

/// JSON to msgpack; the per-bucket and per-second maps get integer keys, as Locust's do.
fn to_msgpack(v: &serde_json::Value, int_keys: bool) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(i)) => Value::from(i),
            _ => Value::F64(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => {
            Value::Array(a.iter().map(|x| to_msgpack(x, false)).collect())
        }
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, x)| {
                    let key = match (int_keys, k.parse::<u64>()) {
                        (true, Ok(n)) => Value::from(n),
                        _ => Value::from(k.as_str()),
                    };
                    let nested = matches!(
                        k.as_str(),
                        "response_times" | "num_reqs_per_sec" | "num_fail_per_sec"
                    );
                    (key, to_msgpack(x, nested))
                })
                .collect(),
        ),
    }
}

/// One entry in Locust's shape.
pub fn entry(e: &EndpointStats) -> Value {
    to_msgpack(&locust_entry(e), false)
}

/// A histogram as `[value, count, value, count, ...]` over its recorded buckets: recording
/// each value `count` times rebuilds it exactly.
pub fn histogram_pairs(e: &EndpointStats) -> Value {
    let mut out = Vec::new();
    for v in e.histogram.iter_recorded() {
        out.push(Value::from(v.value_iterated_to()));
        out.push(Value::from(v.count_at_value()));
    }
    Value::Array(out)
}

/// The `stats` message's data for a delta `d`.
pub fn stats_payload(d: &StatsState, users_by_type: &[(String, u64)], with_hdr: bool) -> Value {
    let entries: Vec<Value> = d
        .entries
        .values()
        .filter(|e| e.num_requests > 0 || e.num_failures > 0 || e.num_unanswered > 0)
        .map(entry)
        .collect();
    let errors = Value::Map(
        d.errors
            .values()
            .map(|e| {
                (
                    Value::from(format!("{}.{}.{:?}", e.method, e.name, e.error)),
                    to_msgpack(&locust_error(e), false),
                )
            })
            .collect(),
    );
    let classes = Value::Map(
        users_by_type
            .iter()
            .map(|(n, c)| (Value::from(n.as_str()), Value::from(*c)))
            .collect(),
    );
    let mut fields = vec![
        ("stats", Value::Array(entries)),
        ("stats_total", entry(&d.total)),
        ("errors", errors),
        ("user_classes_count", classes),
        (
            "user_count",
            Value::from(users_by_type.iter().map(|(_, c)| c).sum::<u64>()),
        ),
    ];
    if with_hdr {
        let hdr = d
            .entries
            .values()
            .filter(|e| e.num_requests > 0 || e.num_unanswered > 0)
            .map(|e| {
                map(vec![
                    ("name", e.name.as_str().into()),
                    ("method", e.method.as_str().into()),
                    ("hist", histogram_pairs(e)),
                    ("unanswered", e.num_unanswered.into()),
                    ("unanswered_mid_body", e.num_unanswered_mid_body.into()),
                    ("hops", e.num_hops.into()),
                    ("resent", e.num_resent.into()),
                ])
            })
            .collect();
        fields.push((HDR_KEY, Value::Array(hdr)));
    }
    map(fields)
}

/// A Stampede worker's generator health, sent in its heartbeat under `stampede_generator`
/// (a Locust master ignores the key). Values outside sane ranges are clamped, so a hostile
/// peer cannot push the master's figures to infinity.
pub fn generator_payload(g: &GeneratorReport) -> (Value, Value) {
    let map = Value::Map(vec![
        ("saturated".into(), Value::Boolean(g.saturated)),
        ("saturated_now".into(), Value::Boolean(g.saturated_now)),
        ("saturated_secs".into(), Value::from(g.saturated_secs)),
        ("worst_lag_ms".into(), Value::F64(g.worst_lag_ms)),
        ("lag_p99_ms".into(), Value::F64(g.lag_p99_ms)),
        ("peak_cpu_percent".into(), Value::F64(g.peak_cpu_percent)),
        ("cores".into(), Value::from(g.cores)),
    ]);
    ("stampede_generator".into(), map)
}

/// Reads [`generator_payload`] back from a heartbeat, if it is there and well formed.
pub fn parse_generator(heartbeat: &Value) -> Option<GeneratorReport> {
    let g = get(heartbeat, "stampede_generator")?;
    let f = |k: &str, max: f64| {
        get(g, k)
            .and_then(|v| v.as_f64().or_else(|| v.as_u64().map(|n| n as f64)))
            .filter(|v| v.is_finite())
            .map(|v| v.clamp(0.0, max))
    };
    let b = |k: &str| get(g, k).and_then(|v| v.as_bool()).unwrap_or(false);
    Some(GeneratorReport {
        saturated: b("saturated"),
        saturated_now: b("saturated_now"),
        saturated_secs: f("saturated_secs", 3.2e7)? as u64,
        worst_lag_ms: f("worst_lag_ms", 3.6e6)?,
        lag_p99_ms: f("lag_p99_ms", 3.6e6)?,
        peak_cpu_percent: f("peak_cpu_percent", 100.0)?,
        cores: f("cores", 65_536.0)? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::message::get;

    #[test]
    fn stats_payload_has_locusts_shape_with_integer_keys() {
        let mut s = StatsState::new(100.0, false);
        let names = crate::stats::Names::new(100);
        s.apply(
            crate::stats::Event::Request {
                id: names.intern("GET", "/"),
                elapsed_us: 12_400,
                content_length: 10,
                error: None,
                at: 101.5,
                hops: 1,
                resent: 0,
                timing: Default::default(),
                pacing_us: 0,
            },
            "n",
            &names.read(),
        );
        let p = stats_payload(&s, &[("Visitor".into(), 3)], true);
        let stats = get(&p, "stats").unwrap().as_array().unwrap();
        assert_eq!(get(&stats[0], "name").unwrap().as_str(), Some("/"));
        let rt = get(&stats[0], "response_times").unwrap().as_map().unwrap();
        assert_eq!(
            rt[0].0.as_u64(),
            Some(12),
            "bucket keys are integers, in ms"
        );
        let per_sec = get(&stats[0], "num_reqs_per_sec")
            .unwrap()
            .as_map()
            .unwrap();
        assert_eq!(per_sec[0].0.as_u64(), Some(101));
        assert!(
            get(get(&p, "stats_total").unwrap(), "method")
                .unwrap()
                .is_nil(),
            "Aggregated has a nil method"
        );
        assert_eq!(get(&p, "user_count").unwrap().as_u64(), Some(3));
        assert!(get(&p, HDR_KEY).is_some());
        assert!(get(&stats_payload(&s, &[], false), HDR_KEY).is_none());
    }
}

fn num(v: Option<&Value>) -> f64 {
    v.and_then(|v| {
        v.as_f64()
            .or_else(|| v.as_i64().map(|i| i as f64))
            .or_else(|| v.as_u64().map(|u| u as f64))
    })
    .unwrap_or(0.0)
}

fn int_map(v: Option<&Value>) -> Vec<(u64, u64)> {
    v.and_then(|m| m.as_map())
        .map(|m| {
            m.iter()
                .filter_map(|(k, c)| {
                    Some((
                        k.as_u64()
                            .or_else(|| k.as_f64().map(|f| f as u64))
                            .or_else(|| k.as_str()?.parse().ok())?,
                        c.as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One Locust entry back into stats; response times come from Locust's buckets (ms) unless
/// `exact` is set, when the caller fills in the exact histogram instead.
fn parse_entry(v: &Value, exact: bool) -> Result<EndpointStats, String> {
    let name = get(v, "name")
        .and_then(|n| n.as_str())
        .ok_or("an entry without a name")?;
    let method = get(v, "method").and_then(|m| m.as_str()).unwrap_or("");
    let mut e = EndpointStats::new(method, name, num(get(v, "start_time")));
    e.num_requests = num(get(v, "num_requests")) as u64;
    e.num_failures = num(get(v, "num_failures")) as u64;
    e.total_response_time_us = (num(get(v, "total_response_time")) * 1000.0) as u64;
    e.max_response_time_us = (num(get(v, "max_response_time")) * 1000.0) as u64;
    e.min_response_time_us = get(v, "min_response_time")
        .filter(|m| !m.is_nil())
        .map(|m| (num(Some(m)) * 1000.0) as u64);
    e.total_content_length = num(get(v, "total_content_length")) as u64;
    if !exact {
        for (ms, count) in int_map(get(v, "response_times")) {
            let _ = e.histogram.record_n(ms * 1000, count);
        }
    }
    e.reqs_per_sec = int_map(get(v, "num_reqs_per_sec")).into_iter().collect();
    e.fails_per_sec = int_map(get(v, "num_fail_per_sec")).into_iter().collect();
    e.last_request_timestamp = get(v, "last_request_timestamp")
        .filter(|t| !t.is_nil())
        .map(|t| num(Some(t)));
    Ok(e)
}

/// A worker's `stats` data as a delta to merge, and its users per class. Entries from a
/// Stampede worker carry exact histograms, which replace the bucketed ones.
pub fn parse_stats(data: &Value) -> Result<(StatsState, Vec<(String, u64)>), String> {
    let mut d = StatsState::new(crate::stats::unix_now(), false);
    let entries = get(data, "stats")
        .and_then(|s| s.as_array())
        .ok_or("no stats list")?;
    let hdr = get(data, HDR_KEY).and_then(|h| h.as_array());
    for raw in entries {
        let e = parse_entry(raw, hdr.is_some())?;
        d.start_time = d.start_time.min(e.start_time);
        d.entries.insert((e.name.clone(), e.method.clone()), e);
    }
    if let Some(hdr) = hdr {
        for h in hdr {
            let (Some(name), Some(method), Some(pairs)) = (
                get(h, "name").and_then(|n| n.as_str()),
                get(h, "method").and_then(|m| m.as_str()),
                get(h, "hist").and_then(|p| p.as_array()),
            ) else {
                return Err("a malformed exact histogram".into());
            };
            if let Some(e) = d.entries.get_mut(&(name.to_owned(), method.to_owned())) {
                e.num_unanswered = get(h, "unanswered").and_then(|v| v.as_u64()).unwrap_or(0);
                e.num_unanswered_mid_body = get(h, "unanswered_mid_body")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                e.num_hops = get(h, "hops").and_then(|v| v.as_u64()).unwrap_or(0);
                e.num_resent = get(h, "resent").and_then(|v| v.as_u64()).unwrap_or(0);
                for pair in pairs.chunks(2) {
                    if let [v, c] = pair {
                        let _ = e
                            .histogram
                            .record_n(v.as_u64().unwrap_or(0), c.as_u64().unwrap_or(0));
                    }
                }
            }
        }
    }
    // The Aggregated row is the sum of the entries, exactly as they were merged.
    let mut total = EndpointStats::new("", "Aggregated", d.start_time);
    for e in d.entries.values() {
        total.merge(e);
    }
    total.start_time = d.start_time;
    d.total = total;
    if let Some(errors) = get(data, "errors").and_then(|e| e.as_map()) {
        for (_, e) in errors {
            let err = crate::stats::ErrorStats {
                method: get(e, "method")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_owned(),
                name: get(e, "name")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_owned(),
                error: get(e, "error")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_owned(),
                occurrences: num(get(e, "occurrences")) as u64,
                first_seen: num(get(e, "first_seen")),
                last_seen: num(get(e, "last_seen")),
            };
            d.errors.insert(
                (err.method.clone(), err.name.clone(), err.error.clone()),
                err,
            );
        }
    }

    Ok((d, parse_classes(data)))
}

/// `user_classes_count` of a report or a `spawning_complete`: users per type, entries
/// that are not a name and a count left out.
pub fn parse_classes(data: &Value) -> Vec<(String, u64)> {
    get(data, "user_classes_count")
        .and_then(|c| c.as_map())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn a_generator_report_round_trips_and_hostile_values_are_refused_or_clamped() {
        let g = GeneratorReport {
            saturated: true,
            saturated_secs: 4,
            worst_lag_ms: 12.5,
            lag_p99_ms: 9.0,
            peak_cpu_percent: 97.0,
            cores: 2,
            saturated_now: false,
        };
        let (k, v) = generator_payload(&g);
        let beat = Value::Map(vec![(k.clone(), v)]);
        assert_eq!(parse_generator(&beat), Some(g));
        let hostile = |lag: f64, cpu: f64| {
            Value::Map(vec![(
                k.clone(),
                Value::Map(vec![
                    ("saturated_secs".into(), Value::from(1)),
                    ("worst_lag_ms".into(), Value::F64(lag)),
                    ("lag_p99_ms".into(), Value::F64(1.0)),
                    ("peak_cpu_percent".into(), Value::F64(cpu)),
                    ("cores".into(), Value::from(2)),
                ]),
            )])
        };
        assert_eq!(parse_generator(&hostile(f64::INFINITY, 1.0)), None);
        let clamped = parse_generator(&hostile(1e300, 1e9)).unwrap();
        assert_eq!(
            (clamped.worst_lag_ms, clamped.peak_cpu_percent),
            (3.6e6, 100.0)
        );
    }

    #[test]
    fn a_stampede_report_round_trips_exactly() {
        let mut s = StatsState::new(100.0, false);
        let names = crate::stats::Names::new(100);
        for i in 0..500u64 {
            s.apply(
                crate::stats::Event::Request {
                    id: names.intern("GET", "/a"),
                    elapsed_us: 1000 + i * 37,
                    content_length: i,
                    error: (i % 50 == 0).then(|| "boom".into()),
                    at: 101.0 + (i / 100) as f64,
                    hops: 1,
                    resent: 0,
                    timing: Default::default(),
                    pacing_us: 0,
                },
                "w",
                &names.read(),
            );
        }
        let payload = stats_payload(&s, &[("T".into(), 2)], true);
        let (back, classes) = parse_stats(&payload).unwrap();
        let (a, b) = (
            &s.entries[&("/a".into(), "GET".into())],
            &back.entries[&("/a".into(), "GET".into())],
        );
        assert_eq!(
            a.histogram, b.histogram,
            "exact histograms survive the wire"
        );
        assert_eq!(
            (a.num_requests, a.num_failures, a.total_content_length),
            (b.num_requests, b.num_failures, b.total_content_length)
        );
        assert_eq!(a.reqs_per_sec, b.reqs_per_sec);
        assert_eq!(back.total.num_requests, 500);
        assert_eq!(back.errors.values().next().unwrap().occurrences, 10);
        assert_eq!(classes, vec![("T".to_owned(), 2)]);
        // Without the extension (a Locust worker), Locust's buckets stand in.
        let (bucketed, _) = parse_stats(&stats_payload(&s, &[], false)).unwrap();
        assert_eq!(
            bucketed.entries[&("/a".into(), "GET".into())].num_requests,
            500
        );
    }
}
