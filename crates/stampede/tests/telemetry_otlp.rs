//! OTLP export against a receiver that decodes what Stampede exports with the official
//! protobuf definitions (the `opentelemetry-proto` crate); the reference counts are the
//! run's own report and the target's own log. (Prometheus: `tests/telemetry.rs`.)

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::running::Running;
use serde_json::Value;

/// What the OTLP receiver decoded.
#[derive(Default)]
struct Received {
    /// The last value of `stampede.requests` per export, summed over its points.
    requests: Vec<u64>,
    /// The count of `http.client.request.duration` per export, summed over its points.
    durations: Vec<u64>,
    /// (trace id, span id) of every span.
    spans: Vec<(Vec<u8>, Vec<u8>)>,
    service_names: HashSet<String>,
}

/// An OTLP/HTTP receiver on 127.0.0.1:0, decoding with the official definitions.
async fn otlp_receiver() -> (url::Url, Arc<Mutex<Received>>) {
    use axum::body::Bytes;
    use axum::routing::post;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use prost::Message;

    let got = Arc::new(Mutex::new(Received::default()));
    let (m, t) = (got.clone(), got.clone());
    let app = axum::Router::new()
        .route(
            "/v1/metrics",
            post(move |body: Bytes| async move {
                let req = ExportMetricsServiceRequest::decode(body).expect("valid OTLP metrics");
                let mut g = m.lock().unwrap();
                for rm in &req.resource_metrics {
                    for kv in rm.resource.iter().flat_map(|r| &r.attributes) {
                        if kv.key == "service.name" {
                            g.service_names.insert(format!("{:?}", kv.value));
                        }
                    }
                    for sm in &rm.scope_metrics {
                        for metric in sm.metrics.iter().filter(|m| m.name == "http.client.request.duration") {
                            if let Some(Data::Histogram(h)) = &metric.data {
                                g.durations.push(h.data_points.iter().map(|p| p.count).sum());
                            }
                        }
                        for metric in sm.metrics.iter().filter(|m| m.name == "stampede.requests") {
                            if let Some(Data::Sum(sum)) = &metric.data {
                                let n = sum.data_points.iter().map(|p| match p.value {
                                    Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i)) => i as u64,
                                    Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(d)) => d as u64,
                                    None => 0,
                                }).sum();
                                g.requests.push(n);
                            }
                        }
                    }
                }
                Bytes::new()
            }),
        )
        .route(
            "/v1/traces",
            post(move |body: Bytes| async move {
                let req = ExportTraceServiceRequest::decode(body).expect("valid OTLP traces");
                let mut g = t.lock().unwrap();
                for rs in &req.resource_spans {
                    for ss in &rs.scope_spans {
                        for s in &ss.spans {
                            g.spans.push((s.trace_id.clone(), s.span_id.clone()));
                        }
                    }
                }
                Bytes::new()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}").parse().unwrap(), got)
}

/// A target that keeps every `traceparent` it receives. It answers after 5 ms, so a
/// run of a few seconds makes hundreds of requests, not tens of thousands: every span fits
/// the exporter's queue however busy the machine is.
async fn tracing_target() -> (url::Url, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move |h: axum::http::HeaderMap| async move {
            let v = h.get("traceparent").map(|v| v.to_str().unwrap().to_owned());
            s.lock().unwrap().push(v.unwrap_or_default());
            tokio::time::sleep(Duration::from_millis(5)).await;
            "hello"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/").parse().unwrap(), seen)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `--otel --trace-context`, headless: the receiver's last request count is the report's,
/// every request is one exported span, and every span's trace and span ids are those of a
/// `traceparent` the target received (one trace per user).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_export_matches_the_report_and_the_targets_traceparents() {
    let (otlp, got) = otlp_receiver().await;
    let (target, seen) = tracing_target().await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut run = Running::start(
        &[
            "-H",
            target.as_str(),
            "--headless",
            "-u",
            "3",
            "-r",
            "30",
            "-t",
            "2s",
            "--otel",
            "--trace-context",
            "--only-summary",
            "--report-json",
            report.to_str().unwrap(),
        ],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.to_string()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500".into()),
            ("OTEL_SERVICE_NAME", "checkout-load".into()),
        ],
    );
    let code = tokio::task::spawn_blocking(move || {
        let c = run.wait();
        (c, run.seen.clone())
    })
    .await
    .unwrap();
    assert_eq!(code.0, 0, "{:#?}", code.1);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let requests = report["total"]["num_requests"].as_u64().unwrap();
    assert!(requests > 0);

    // The target also saw the requests the run's end cut off (the report's unanswered,
    // which end no span).
    let unanswered = report["total"]["unanswered"].as_u64().unwrap();
    // The target logs a request once it has parsed it, which can lag the run's end.
    for _ in 0..500 {
        if seen.lock().unwrap().len() as u64 >= requests + unanswered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let headers = seen.lock().unwrap().clone();
    assert_eq!(
        headers.len() as u64,
        requests + unanswered,
        "the target's own count"
    );
    let mut sent = HashSet::new();
    let mut traces = HashSet::new();
    for h in &headers {
        let parts: Vec<&str> = h.split('-').collect();
        assert_eq!(parts.len(), 4, "a W3C traceparent: {h:?}");
        assert_eq!((parts[0], parts[3]), ("00", "01"), "{h}");
        assert!(
            sent.insert((parts[1].to_owned(), parts[2].to_owned())),
            "a span id sent twice: {h}"
        );
        traces.insert(parts[1].to_owned());
    }
    assert_eq!(traces.len(), 3, "one trace per user");

    let g = got.lock().unwrap();
    assert!(
        g.requests.len() >= 2,
        "periodic exports and the last one: {:?}",
        g.requests
    );
    assert_eq!(
        *g.requests.last().unwrap(),
        requests,
        "the last export's count is the report's"
    );
    assert_eq!(
        g.durations.last().copied(),
        Some(requests),
        "the semantic conventions' histogram counts every request"
    );
    assert!(
        g.requests.windows(2).all(|w| w[0] <= w[1]),
        "a counter went down: {:?}",
        g.requests
    );
    assert!(
        g.service_names.iter().any(|s| s.contains("checkout-load")),
        "{:?}",
        g.service_names
    );
    assert_eq!(g.spans.len() as u64, requests, "a span per request");
    for (trace, span) in &g.spans {
        assert!(
            sent.contains(&(hex(trace), hex(span))),
            "span {}/{} matches no traceparent the target received",
            hex(trace),
            hex(span)
        );
    }
}

/// Without `--trace-context`, a request carries no `traceparent`: the feature costs
/// nothing and changes nothing when off.
#[tokio::test]
async fn no_traceparent_without_the_flag() {
    let (target, seen) = tracing_target().await;
    let (mut c, _) = common::client(target);
    c.get("/").send().await.unwrap();
    assert_eq!(seen.lock().unwrap().as_slice(), [String::new()]);
}
