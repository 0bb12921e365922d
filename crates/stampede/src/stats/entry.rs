//! One row of the statistics table: every request with the same method and name.
//!
//! Response times go into an HDR histogram at microsecond resolution and 3 significant
//! digits, so percentiles are exact to 0.1 % (Locust rounds to ~2 digits and can report a
//! p99 above the max). Histograms add exactly, which is what lets stats from many workers
//! merge without loss.

use std::collections::BTreeMap;

use super::window::Window;

use hdrhistogram::Histogram;

/// The percentiles Locust reports in its CSV files and console table.
pub const PERCENTILES_TO_REPORT: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// Significant digits kept by every histogram.
const SIGFIG: u8 = 3;

/// A new auto-resizing histogram of microseconds.
pub fn new_histogram() -> Histogram<u64> {
    // Auto-resizing keeps an endpoint that only ever answers in 1 ms small, and
    // still records a 10-minute outlier exactly.
    Histogram::new(SIGFIG).expect("3 significant digits is a valid histogram precision")
}

/// Records `us` into `h`, growing it as needed (`saturating_record` would clamp instead).
pub fn record_us(h: &mut Histogram<u64>, us: u64) {
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
}

/// Counters and a histogram for one (method, name) pair, or for all of them ("Aggregated").
#[derive(Clone, Debug)]
pub struct EndpointStats {
    pub method: String,
    pub name: String,
    pub num_requests: u64,
    pub num_failures: u64,
    /// Sum of response times in microseconds, for the average.
    pub total_response_time_us: u64,
    pub min_response_time_us: Option<u64>,
    pub max_response_time_us: u64,
    pub total_content_length: u64,
    /// Response times in microseconds.
    pub histogram: Histogram<u64>,
    /// Requests per unix second: the source of current RPS and of the history.
    pub reqs_per_sec: BTreeMap<u64, u64>,
    pub fails_per_sec: BTreeMap<u64, u64>,
    /// Unix time (seconds) the stats were started or last reset.
    pub start_time: f64,
    /// Unix time (seconds) of the newest request.
    pub last_request_timestamp: Option<f64>,
    /// Requests that left the machine but had no answer when the run ended.
    pub num_unanswered: u64,
    /// Of those, the ones whose response head had come, with the body still arriving.
    pub num_unanswered_mid_body: u64,
    /// Server hits: a redirect chain is one request but a hit per hop. Compared with a
    /// server's own access log, hits = completed hops + unanswered hops.
    pub num_hops: u64,
    /// Stale sends that were sent again (see `Event::Request::resent`): a server's log
    /// holds between `num_hops` and `num_hops + num_resent` hits.
    pub num_resent: u64,
    /// Distinct failure texts seen for this entry, for the `--max-failure-keys` cap.
    pub(crate) failure_keys: u32,
    /// How the requests were timed, and what their parts took.
    pub timing: TimingTotals,
    /// Response times (µs) corrected for coordinated omission: paced users' requests,
    /// with the samples a stalled schedule never sent (`--correct-omission`).
    pub corrected: Option<Box<Histogram<u64>>>,
}

/// The most synthetic samples one slow request adds: a minute-long stall of a 1 ms pacing
/// would otherwise cost 60,000 records.
const MAX_CORRECTION_SAMPLES: u64 = 10_000;

/// Sums behind the report's timing breakdown (oha's DNS / connect / TLS / first byte).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TimingTotals {
    /// Requests timed by the kernel's receive timestamps (the rest: the monotonic clock).
    pub kernel_timed: u64,
    /// Connections opened, and the time their DNS, connect and TLS phases took.
    pub connections: u64,
    pub dns_us: u64,
    pub connect_us: u64,
    pub tls_us: u64,
    /// Write to first response byte, over the requests the kernel stamped.
    pub ttfb_us: u64,
    pub ttfb_n: u64,
}

impl TimingTotals {
    pub fn add(&mut self, t: &crate::stats::Timing) {
        self.kernel_timed += u64::from(t.kernel);
        self.connections += u64::from(t.opened);
        self.dns_us += t.dns_us;
        self.connect_us += t.connect_us;
        self.tls_us += t.tls_us;
        if let Some(us) = t.ttfb_us {
            self.ttfb_us += us;
            self.ttfb_n += 1;
        }
    }

    pub fn merge(&mut self, o: &TimingTotals) {
        self.kernel_timed = self.kernel_timed.saturating_add(o.kernel_timed);
        self.connections = self.connections.saturating_add(o.connections);
        self.dns_us = self.dns_us.saturating_add(o.dns_us);
        self.connect_us = self.connect_us.saturating_add(o.connect_us);
        self.tls_us = self.tls_us.saturating_add(o.tls_us);
        self.ttfb_us = self.ttfb_us.saturating_add(o.ttfb_us);
        self.ttfb_n = self.ttfb_n.saturating_add(o.ttfb_n);
    }
}

impl EndpointStats {
    pub fn new(method: &str, name: &str, start_time: f64) -> Self {
        Self {
            method: method.to_owned(),
            name: name.to_owned(),
            num_requests: 0,
            num_failures: 0,
            total_response_time_us: 0,
            min_response_time_us: None,
            max_response_time_us: 0,
            total_content_length: 0,
            histogram: new_histogram(),
            reqs_per_sec: BTreeMap::new(),
            fails_per_sec: BTreeMap::new(),
            start_time,
            last_request_timestamp: None,
            num_unanswered: 0,
            num_unanswered_mid_body: 0,
            num_hops: 0,
            num_resent: 0,
            failure_keys: 0,
            timing: TimingTotals::default(),
            corrected: None,
        }
    }

    /// Counts one request that completed at unix time `at`.
    pub fn record(&mut self, elapsed_us: u64, content_length: u64, failed: bool, at: f64) {
        self.num_requests += 1;
        self.total_response_time_us += elapsed_us;
        self.min_response_time_us = Some(
            self.min_response_time_us
                .map_or(elapsed_us, |m| m.min(elapsed_us)),
        );
        self.max_response_time_us = self.max_response_time_us.max(elapsed_us);
        self.total_content_length += content_length;
        record_us(&mut self.histogram, elapsed_us);
        let second = at as u64;
        *self.reqs_per_sec.entry(second).or_default() += 1;
        if failed {
            self.num_failures += 1;
            *self.fails_per_sec.entry(second).or_default() += 1;
        }
        self.last_request_timestamp = Some(self.last_request_timestamp.map_or(at, |t| t.max(at)));
    }

    /// Counts a paced user's request into the corrected histogram: as HdrHistogram's
    /// `record_correct`, a response slower than the pacing also stands for the requests
    /// the schedule would have sent meanwhile (`v - k * interval` for each missed one).
    pub fn record_corrected(&mut self, elapsed_us: u64, interval_us: u64) {
        let h = self
            .corrected
            .get_or_insert_with(|| Box::new(new_histogram()));
        record_us(h, elapsed_us);
        if interval_us == 0 {
            return;
        }
        let mut missing = elapsed_us.saturating_sub(interval_us);
        let mut n = 0;
        while missing >= interval_us && n < MAX_CORRECTION_SAMPLES {
            record_us(h, missing);
            missing -= interval_us;
            n += 1;
        }
    }

    /// A percentile (ms) of the corrected response times, if any were recorded.
    pub fn corrected_percentile_ms(&self, quantile: f64) -> Option<f64> {
        let h = self.corrected.as_ref()?;
        (!h.is_empty()).then(|| h.value_at_quantile(quantile) as f64 / 1000.0)
    }

    /// Adds another entry's counts to this one, exactly (distributed mode, Aggregated row).
    pub fn merge(&mut self, other: &EndpointStats) {
        self.num_requests = self.num_requests.saturating_add(other.num_requests);
        self.num_failures = self.num_failures.saturating_add(other.num_failures);
        self.num_unanswered = self.num_unanswered.saturating_add(other.num_unanswered);
        self.num_unanswered_mid_body = self
            .num_unanswered_mid_body
            .saturating_add(other.num_unanswered_mid_body);
        self.num_hops = self.num_hops.saturating_add(other.num_hops);
        self.num_resent = self.num_resent.saturating_add(other.num_resent);
        self.timing.merge(&other.timing);
        if let Some(theirs) = &other.corrected {
            let mine = self
                .corrected
                .get_or_insert_with(|| Box::new(new_histogram()));
            mine.add(&**theirs)
                .expect("auto-resizing histograms always add");
        }
        self.total_response_time_us = self
            .total_response_time_us
            .saturating_add(other.total_response_time_us);
        self.min_response_time_us = match (self.min_response_time_us, other.min_response_time_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_response_time_us = self.max_response_time_us.max(other.max_response_time_us);
        self.total_content_length = self
            .total_content_length
            .saturating_add(other.total_content_length);
        self.histogram
            .add(&other.histogram)
            .expect("auto-resizing histograms always add");
        for (s, n) in &other.reqs_per_sec {
            let c = self.reqs_per_sec.entry(*s).or_default();
            *c = c.saturating_add(*n);
        }
        for (s, n) in &other.fails_per_sec {
            let c = self.fails_per_sec.entry(*s).or_default();
            *c = c.saturating_add(*n);
        }
        self.start_time = self.start_time.min(other.start_time);
        self.last_request_timestamp =
            match (self.last_request_timestamp, other.last_request_timestamp) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
    }

    pub fn fail_ratio(&self) -> f64 {
        if self.num_requests == 0 {
            0.0
        } else {
            self.num_failures as f64 / self.num_requests as f64
        }
    }

    pub fn avg_ms(&self) -> f64 {
        if self.num_requests == 0 {
            0.0
        } else {
            self.total_response_time_us as f64 / self.num_requests as f64 / 1000.0
        }
    }

    pub fn min_ms(&self) -> f64 {
        self.min_response_time_us.unwrap_or(0) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.max_response_time_us as f64 / 1000.0
    }

    /// The response time (ms) that `quantile` (0..=1) of requests finished within.
    /// 1.0 is the exact max; others are exact to HDR precision and never exceed the max.
    pub fn percentile_ms(&self, quantile: f64) -> f64 {
        if self.num_requests == 0 {
            return 0.0;
        }
        if quantile >= 1.0 {
            return self.max_ms();
        }
        let v = self
            .histogram
            .value_at_quantile(quantile)
            .min(self.max_response_time_us);
        let v = v.max(self.min_response_time_us.unwrap_or(0));
        v as f64 / 1000.0
    }

    pub fn median_ms(&self) -> f64 {
        self.percentile_ms(0.5)
    }

    pub fn avg_content_length(&self) -> f64 {
        if self.num_requests == 0 {
            0.0
        } else {
            self.total_content_length as f64 / self.num_requests as f64
        }
    }

    /// Seconds between the start and the newest request. On the Aggregated row it is the
    /// test's window, which every row's total rate is taken over (see [`total_rps`]).
    ///
    /// [`total_rps`]: Self::total_rps
    pub fn span_secs(&self) -> f64 {
        match self.last_request_timestamp {
            Some(last) if last > self.start_time => last - self.start_time,
            _ => 0.0,
        }
    }

    /// Requests per second over the whole test, as Locust defines `total_rps`: every row's
    /// count over the test's window (`total`, the Aggregated row: the stats' start to the
    /// newest request of any name), not over the row's own first-to-last request. So the
    /// rows add up to Aggregated, as in Locust's `stats.py`.
    pub fn total_rps(&self, total: &EndpointStats) -> f64 {
        per_second(self.num_requests, total.span_secs())
    }

    /// Failures per second over the whole test, as [`total_rps`](Self::total_rps).
    pub fn total_fail_per_sec(&self, total: &EndpointStats) -> f64 {
        per_second(self.num_failures, total.span_secs())
    }

    /// Requests per second over the current window (see [`super::window`]).
    pub fn current_rps(&self, w: Window) -> f64 {
        w.average(&self.reqs_per_sec)
    }

    pub fn current_fail_per_sec(&self, w: Window) -> f64 {
        w.average(&self.fails_per_sec)
    }
}

/// Locust's response-time bucket: exact ms below 100, then ~2 significant digits,
/// rounding halves to even as Python's `round` does.
pub fn locust_bucket(ms: f64) -> u64 {
    fn round_even(x: f64) -> f64 {
        let r = x.round();
        if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
            r - x.signum()
        } else {
            r
        }
    }
    let scale = if ms < 100.0 {
        1.0
    } else if ms < 1000.0 {
        10.0
    } else if ms < 10000.0 {
        100.0
    } else {
        1000.0
    };
    (round_even(ms / scale) * scale) as u64
}

/// `n` over `secs`, or 0 for an empty window (Locust's ZeroDivisionError answer).
fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_sorted_samples_within_hdr_precision() {
        let mut e = EndpointStats::new("GET", "/", 0.0);
        let mut samples: Vec<u64> = (0..10_000u64).map(|i| (i * 7919) % 250_000 + 50).collect();
        for s in &samples {
            e.record(*s, 10, false, 1.0);
        }
        samples.sort_unstable();
        for q in PERCENTILES_TO_REPORT {
            let idx = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            let exact = samples[idx] as f64 / 1000.0;
            let got = e.percentile_ms(q);
            assert!(
                (got - exact).abs() <= exact * 0.001 + 0.001,
                "q={q} exact={exact} got={got}"
            );
        }
        assert_eq!(
            e.percentile_ms(1.0),
            *samples.last().unwrap() as f64 / 1000.0
        );
    }

    #[test]
    fn merging_two_halves_equals_recording_everything() {
        let mut all = EndpointStats::new("GET", "/", 0.0);
        let mut a = EndpointStats::new("GET", "/", 0.0);
        let mut b = EndpointStats::new("GET", "/", 0.0);
        for i in 0..5000u64 {
            let v = (i * 31) % 9000 + 1;
            all.record(v, i, i % 10 == 0, (i / 100) as f64);
            if i % 2 == 0 {
                a.record(v, i, i % 10 == 0, (i / 100) as f64);
            } else {
                b.record(v, i, i % 10 == 0, (i / 100) as f64);
            }
        }
        a.merge(&b);
        assert_eq!(a.num_requests, all.num_requests);
        assert_eq!(a.num_failures, all.num_failures);
        assert_eq!(a.total_response_time_us, all.total_response_time_us);
        assert_eq!(a.reqs_per_sec, all.reqs_per_sec);
        assert_eq!(a.histogram, all.histogram);
        for q in PERCENTILES_TO_REPORT {
            assert_eq!(a.percentile_ms(q), all.percentile_ms(q));
        }
    }

    #[test]
    fn locust_buckets_round_like_python() {
        assert_eq!(locust_bucket(99.4), 99);
        assert_eq!(locust_bucket(147.0), 150);
        assert_eq!(locust_bucket(145.0), 140); // half to even
        assert_eq!(locust_bucket(3432.0), 3400);
        assert_eq!(locust_bucket(58760.0), 59000);
    }

    #[test]
    fn current_rps_averages_the_settled_window() {
        let mut e = EndpointStats::new("GET", "/", 100.0);
        for s in 100..110u64 {
            for _ in 0..5 {
                e.record(1000, 0, false, s as f64 + 0.5);
            }
        }
        assert_eq!(e.current_rps(Window::at(111.2, 1, 100.0)), 5.0);
    }
}
