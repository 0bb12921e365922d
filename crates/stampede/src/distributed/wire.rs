//! Statistics on the wire: Locust's `stats` report (entries with bucketed response times,
//! deltas since the last report), plus Stampede's extension carrying the exact HDR
//! histograms, sent only to a master that announced it understands them.

use super::payload::{Classes, Errors, Exact, ParsedOptions, Report, Total};
use crate::stats::{EndpointStats, LocustEntry, LocustError, StatsState};

/// A histogram as `[value, count, value, count, ...]` over its recorded buckets: recording
/// each value `count` times rebuilds it exactly.
pub fn histogram_pairs(e: &EndpointStats) -> Vec<u64> {
    let mut out = Vec::new();
    for v in e.histogram.iter_recorded() {
        out.push(v.value_iterated_to());
        out.push(v.count_at_value());
    }
    out
}

/// The `stats` report for a delta `d`.
pub fn stats_payload(d: &StatsState, users_by_type: &[(String, u64)], with_hdr: bool) -> Report {
    let counted = |e: &&EndpointStats| e.num_requests > 0 || e.num_unanswered > 0;
    let errors = d
        .errors
        .values()
        .map(|e| {
            (
                format!("{}.{}.{:?}", e.method, e.name, e.error),
                LocustError::of(e),
            )
        })
        .collect();
    let hdr = with_hdr.then(|| {
        d.entries
            .values()
            .filter(counted)
            .map(|e| Exact {
                name: e.name.clone(),
                method: e.method.clone(),
                hist: histogram_pairs(e),
                unanswered: e.num_unanswered,
                unanswered_mid_body: e.num_unanswered_mid_body,
                hops: e.num_hops,
                resent: e.num_resent,
            })
            .collect()
    });
    let classes = Classes(users_by_type.to_vec());
    Report {
        stats: d
            .entries
            .values()
            .filter(|e| e.num_requests > 0 || e.num_failures > 0 || e.num_unanswered > 0)
            .map(LocustEntry::of)
            .collect(),
        stats_total: Total::Entry(LocustEntry::of(&d.total)),
        errors: Errors(errors),
        user_count: classes.total(),
        user_classes_count: classes,
        stampede_hdr: hdr,
        extra: ParsedOptions::default(),
    }
}

/// A worker's report as a delta to merge, and its users per class. Entries from a
/// Stampede worker carry exact histograms, which replace the bucketed ones.
pub fn parse_stats(report: &Report) -> (StatsState, Vec<(String, u64)>) {
    let mut d = StatsState::new(crate::stats::unix_now(), false);
    let exact = report.stampede_hdr.is_some();
    for raw in &report.stats {
        let e = raw.clone().into_stats(exact);
        d.start_time = d.start_time.min(e.start_time);
        d.entries.insert((e.name.clone(), e.method.clone()), e);
    }
    for h in report.stampede_hdr.iter().flatten() {
        if let Some(e) = d.entries.get_mut(&(h.name.clone(), h.method.clone())) {
            e.num_unanswered = h.unanswered;
            e.num_unanswered_mid_body = h.unanswered_mid_body;
            e.num_hops = h.hops;
            e.num_resent = h.resent;
            for pair in h.hist.chunks(2) {
                if let [v, c] = pair {
                    let _ = e.histogram.record_n(*v, *c);
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
    for (_, e) in &report.errors.0 {
        let err = e.clone().into_stats();
        d.errors.insert(
            (err.method.clone(), err.name.clone(), err.error.clone()),
            err,
        );
    }
    (d, report.user_classes_count.0.clone())
}

#[cfg(test)]
mod parse_tests {
    use super::*;

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
        let (back, classes) = parse_stats(&payload);
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
        let (bucketed, _) = parse_stats(&stats_payload(&s, &[], false));
        assert_eq!(
            bucketed.entries[&("/a".into(), "GET".into())].num_requests,
            500
        );
    }
}
