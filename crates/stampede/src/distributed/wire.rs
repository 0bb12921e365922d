//! Statistics on the wire: Locust's `stats` report (entries with bucketed response times,
//! deltas since the last report), plus Stampede's extension carrying the exact HDR
//! histograms, sent only to a master that announced it understands them.

use rmpv::Value;

use super::message::map;
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
        .filter(|e| e.num_requests > 0 || e.num_failures > 0)
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
            .filter(|e| e.num_requests > 0)
            .map(|e| {
                map(vec![
                    ("name", e.name.as_str().into()),
                    ("method", e.method.as_str().into()),
                    ("hist", histogram_pairs(e)),
                ])
            })
            .collect();
        fields.push((HDR_KEY, Value::Array(hdr)));
    }
    map(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::message::get;

    #[test]
    fn stats_payload_has_locusts_shape_with_integer_keys() {
        let mut s = StatsState::new(100.0, false);
        s.apply(
            crate::stats::Event::Request {
                method: "GET".into(),
                name: "/".into(),
                elapsed_us: 12_400,
                content_length: 10,
                error: None,
                at: 101.5,
            },
            "n",
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
