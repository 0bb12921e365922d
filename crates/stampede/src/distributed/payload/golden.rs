//! The bytes of every kind of message, pinned: `golden_frames.txt` was written by the
//! hand-built `rmpv` encoder these types replaced, and the typed encoder must write the
//! same bytes (see `stats_entries_keep_their_order_but_buckets_are_numeric` for the
//! one difference), and read them back to the same values.

use super::*;
use crate::stats::{Event, Names, StatsState};

const GOLDEN: &str = include_str!("golden_frames.txt");

fn golden(name: &str) -> Vec<u8> {
    let line = GOLDEN
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no golden frame '{name}'"));
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex"))
        .collect()
}

fn classes() -> Classes {
    Classes(vec![("Visitor".into(), 4), ("Customer".into(), 1)])
}

pub(crate) fn sample_stats() -> StatsState {
    let mut s = StatsState::new(1_700_000_000.0, false);
    let names = Names::new(100);
    for (i, (path, ms)) in [("/", 9u64), ("/", 12), ("/", 140), ("/cart", 1500)]
        .into_iter()
        .enumerate()
    {
        s.apply(
            Event::Request {
                id: names.intern(if path == "/" { "GET" } else { "POST" }, path),
                elapsed_us: ms * 1000 + 400,
                content_length: 100 + i as u64,
                error: (path == "/cart").then(|| "500 Internal".into()),
                at: 1_700_000_001.0 + i as f64 * 7.0,
                hops: 0,
                resent: 0,
                timing: Default::default(),
                pacing_us: 0,
            },
            "n",
            &names.read(),
        );
    }
    s
}

fn samples() -> Vec<(&'static str, Payload)> {
    let users = [("Visitor".to_owned(), 4), ("Customer".to_owned(), 1)];
    vec![
        (
            "ready_dev",
            Payload::ClientReady(Ready::Locust((-1).into())),
        ),
        (
            "ready_token",
            Payload::ClientReady(Ready::Stampede {
                version: "stampede/0.1.0".into(),
                token: Some("s3cret".into()),
            }),
        ),
        (
            "ack",
            Payload::Ack(Ack {
                index: 3,
                stampede: Some(1),
            }),
        ),
        (
            "spawn",
            Payload::Spawn(Box::new(Spawn {
                timestamp: 1_700_000_000.5,
                user_classes_count: classes(),
                host: Some("http://127.0.0.1:8000".into()),
                stop_timeout: Some(2.0),
                parsed_options: ParsedOptions(vec![
                    ("wait_scale".into(), Value::F64(0.0)),
                    (
                        "stampede_plan_args".into(),
                        Value::Array(vec!["--think-scale=0".into()]),
                    ),
                ]),
            })),
        ),
        ("spawning", Payload::Spawning),
        ("spawning_complete", Payload::SpawningComplete(classes())),
        ("stop", Payload::Stop),
        ("client_stopped", Payload::ClientStopped),
        ("quit", Payload::Quit),
        ("heartbeat_master", Payload::Heartbeat(None)),
        (
            "heartbeat_worker",
            Payload::Heartbeat(Some(Beat {
                state: "running".into(),
                current_cpu_usage: 12.5,
                current_memory_usage: 123_456_789,
                stampede_generator: Some(Generator::of(&GeneratorReport {
                    saturated: true,
                    saturated_now: false,
                    saturated_secs: 3,
                    worst_lag_ms: 41.5,
                    lag_p99_ms: 7.25,
                    peak_cpu_percent: 99.0,
                    cores: 2,
                })),
            })),
        ),
        (
            "stats_hdr",
            Payload::Stats(Box::new(crate::distributed::wire::stats_payload(
                &sample_stats(),
                &users,
                true,
            ))),
        ),
        (
            "stats_plain",
            Payload::Stats(Box::new(crate::distributed::wire::stats_payload(
                &sample_stats(),
                &users[..1],
                false,
            ))),
        ),
        (
            "exception",
            Payload::Exception(ExceptionReport {
                msg: "boom".into(),
                traceback: "Traceback ...\n  line 3".into(),
            }),
        ),
    ]
}

#[test]
fn every_kind_writes_the_pinned_bytes_and_reads_back_the_same() {
    for (name, p) in samples() {
        let bytes = p.encode("node_1");
        if std::env::var_os("STAMPEDE_PRINT_GOLDEN").is_some() {
            println!("{name} {}", hex(&bytes));
            continue;
        }
        assert_eq!(hex(&bytes), hex(&golden(name)), "{name}");
        let (back, node) = Payload::decode(&bytes).unwrap();
        assert_eq!(node, "node_1");
        assert_eq!(back, p, "{name} reads back");
    }
}

/// The one difference from the `rmpv` encoder: it wrote the bucket and per-second maps
/// in the order of their keys as text (9 after 140), an artifact of going through JSON;
/// these types write them in numeric order. Locust reads both as the same dict, and so
/// do we: the old bytes read back to the same report.
#[test]
fn stats_entries_keep_their_order_but_buckets_are_numeric() {
    for name in ["stats_hdr", "stats_plain"] {
        let (old, _) = Payload::decode(&golden(&format!("{name}_rmpv"))).unwrap();
        let (new, _) = Payload::decode(&golden(name)).unwrap();
        assert_eq!(old, new, "{name}");
        let Payload::Stats(r) = new else {
            panic!("{name} is a report")
        };
        let Total::Entry(total) = r.stats_total else {
            panic!("{name} has an Aggregated row")
        };
        let buckets: Vec<u64> = total.response_times.0.keys().copied().collect();
        assert_eq!(buckets, [9, 12, 140, 1500]);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// A test's own message goes out exactly as the envelope writes any message (Locust's
/// `Message(type, data, node_id)`), data untouched, and reads back as itself.
#[test]
fn a_custom_message_is_its_envelope() {
    let data = Value::Map(vec![
        (
            "echo".into(),
            Value::Array(vec![1.into(), Value::Nil, "two".into()]),
        ),
        (Value::from(7), Value::F64(3.5)),
    ]);
    let p = Payload::Custom {
        kind: "greet".into(),
        data: data.clone(),
    };
    let bytes = p.encode("node_1");
    assert_eq!(bytes, Message::new("greet", data, "node_1").encode());
    assert_eq!(Payload::decode(&bytes).unwrap(), (p, "node_1".to_owned()));
}

/// Data of the wrong shape for its type is an error naming the type and what was wrong,
/// not a panic and not a default.
#[test]
fn a_payload_of_the_wrong_shape_is_named() {
    let bad = Message::new("spawn", Value::from("not a map"), "n").encode();
    let Err(DecodeError::Payload(e)) = Payload::decode(&bad) else {
        panic!("a spawn that is a string decoded")
    };
    assert_eq!(e.kind, "spawn");
    assert!(!e.why.is_empty());
    let no_stats = Message::new("stats", Value::Map(vec![]), "n").encode();
    assert!(matches!(
        Payload::decode(&no_stats),
        Err(DecodeError::Payload(PayloadError { ref kind, .. })) if kind == "stats"
    ));
}
