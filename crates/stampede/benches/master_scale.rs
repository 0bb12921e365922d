//! How a Stampede master copes with a big fleet: 100 simulated workers each report 20
//! endpoints every 3 s at 10,000 requests per second (1,000,000 RPS in all), with exact HDR
//! histograms. Checks that the master's totals are exact and measures its CPU.
//!
//!     cargo bench --bench master_scale [-- SECONDS]
//!
//! The fleet runs in a second process (this binary, re-executed), so the master's CPU time
//! is its own. The last line is machine-readable.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stampede::advanced::distributed::{stats_payload, Message, Payload, Report};
use stampede::advanced::stats::{Event, StatsState};
use stampede::advanced::swarm::{MasterConfig, SwarmConfig};
use stampede::prelude::*;
use zeromq::{DealerSocket, Socket, SocketOptions, SocketSend, ZmqMessage};

const WORKERS: usize = 100;
const ENDPOINTS: usize = 20;
const RPS_PER_WORKER: u64 = 10_000;
const REPORT_EVERY: u64 = 3;

/// One worker's 3-second report: 30,000 requests spread over 20 endpoints.
fn report() -> Report {
    let mut s = StatsState::new(1.0, false);
    let names = stampede::advanced::stats::Names::new(100);
    let per_endpoint = RPS_PER_WORKER * REPORT_EVERY / ENDPOINTS as u64;
    for e in 0..ENDPOINTS {
        let name = format!("/endpoint/{e}");
        for i in 0..per_endpoint {
            // A long-tailed spread of response times, 200 us to ~2 s.
            let us = 200 + (i * 7919 % 10_000) * (i * 31 % 200 + 1);
            s.apply(
                Event::Request {
                    id: names.intern("GET", &name),
                    elapsed_us: us,
                    content_length: 512,
                    error: None,
                    at: 1000.0 + (i % 3) as f64,
                    hops: 1,
                    resent: 0,
                    timing: Default::default(),
                    pacing_us: 0,
                },
                "sim",
                &names.read(),
            );
        }
    }
    stats_payload(&s, &[("Sim".into(), 100)], true)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}

async fn fleet(port: u16, seconds: u64) {
    let payload = report();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("sim{w}_{}", uuid_hex(w));
            let mut o = SocketOptions::default();
            o.peer_identity(id.as_bytes().to_vec().try_into().unwrap());
            let mut s = DealerSocket::with_options(o);
            s.connect(&format!("tcp://127.0.0.1:{port}")).await.unwrap();
            s.send(ZmqMessage::from(
                Message::new("client_ready", (-1).into(), &id).encode(),
            ))
            .await
            .unwrap();
            let frame = Payload::Stats(Box::new(payload)).encode(&id);
            let mut sent = 0u64;
            let start = Instant::now();
            // Stagger the workers over the report interval, as real ones drift apart.
            tokio::time::sleep(Duration::from_millis(
                w as u64 * REPORT_EVERY * 1000 / WORKERS as u64,
            ))
            .await;
            let mut tick = tokio::time::interval(Duration::from_secs(REPORT_EVERY));
            let mut beat = tokio::time::interval(Duration::from_secs(1));
            let heartbeat = Message::new(
                "heartbeat",
                rmpv::Value::Map(vec![
                    ("state".into(), "running".into()),
                    ("current_cpu_usage".into(), rmpv::Value::F64(1.0)),
                    ("current_memory_usage".into(), 1u64.into()),
                ]),
                &id,
            )
            .encode();
            while start.elapsed() < Duration::from_secs(seconds) {
                tokio::select! {
                    _ = tick.tick() => {
                        s.send(ZmqMessage::from(frame.clone())).await.unwrap();
                        sent += 1;
                    }
                    _ = beat.tick() => s.send(ZmqMessage::from(heartbeat.clone())).await.unwrap(),
                }
            }
            s.send(ZmqMessage::from(
                Message::new("quit", rmpv::Value::Nil, &id).encode(),
            ))
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            sent
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    println!("reports_sent={total}");
}

fn uuid_hex(w: usize) -> String {
    format!("{:032x}", w as u128 * 0x9e37_79b9_7f4a_7c15)
}

struct Nobody;
async fn idle(_: &mut Nobody) -> TaskResult {
    Ok(())
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::args().find_map(|a| a.parse().ok()).unwrap_or(30);
    if let Ok(port) = std::env::var("STAMPEDE_BENCH_FLEET_PORT") {
        fleet(port.parse().unwrap(), seconds).await;
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let plan =
        Plan::new().user_type(UserType::new("Sim", |_| Nobody).task(Task::new("idle", idle)));
    let master = MasterConfig {
        bind: format!("tcp://127.0.0.1:{port}"),
        expect_workers: WORKERS as u32,
        ..MasterConfig::default()
    };
    let swarm = plan
        .master_swarm(
            SwarmConfig::new("http://127.0.0.1/".parse().unwrap()),
            master,
        )
        .await
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .arg(seconds.to_string())
        .env("STAMPEDE_BENCH_FLEET_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    // Let the last reports drain through the aggregator.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
    let sent: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("reports_sent=")
        .parse()
        .unwrap();
    let total = swarm.stats.snapshot().await.total.num_requests;
    let expected = sent * RPS_PER_WORKER * REPORT_EVERY;
    let rps = total as f64 / wall;
    println!("| workers | endpoints each | reports | requests aggregated | aggregated RPS | master CPU (share of one core) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {WORKERS} | {ENDPOINTS} | {sent} | {total} | {rps:.0} | {:.1} % |",
        cpu / wall * 100.0
    );
    assert_eq!(total, expected, "the master lost or invented requests");
    let ours = cpu / wall;
    let locust = locust_master(seconds);
    match locust {
        Some(l) => {
            println!(
                "| Locust 2.47 master, same fleet | | | | | {:.1} % |",
                l * 100.0
            );
            println!("exact=true master_cpu_share={ours:.3} aggregated_rps={rps:.0} locust_master_cpu_share={l:.3} cpu_ratio_vs_locust={:.2}", ours / l);
        }
        None => println!("exact=true master_cpu_share={ours:.3} aggregated_rps={rps:.0}"),
    }
}

/// The same fleet against a real Locust master (when `STAMPEDE_LOCUST` points at one):
/// its CPU share over the run, read from /proc.
fn locust_master(seconds: u64) -> Option<f64> {
    let locust = std::env::var("STAMPEDE_LOCUST").ok()?;
    let dir = std::env::temp_dir().join(format!("stampede-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join("locustfile.py"), "from locust import User, task\n\nclass Sim(User):\n    @task\n    def idle(self):\n        pass\n").ok()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let run_for = format!("{}s", seconds + 15);
    let master = Command::new(&locust)
        .current_dir(&dir)
        .args([
            "-f",
            "locustfile.py",
            "--master",
            "--headless",
            "-u",
            "100",
            "-r",
            "100",
            "-t",
            &run_for,
            "--expect-workers",
            "100",
            "--master-bind-port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = master.id();
    let ticks = || -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let f: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        (f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)) as f64
            / 100.0
    };
    std::thread::sleep(Duration::from_secs(3));
    let exe = std::env::current_exe().ok()?;
    let fleet = Command::new(exe)
        .arg(seconds.to_string())
        .env("STAMPEDE_BENCH_FLEET_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let (c0, t0) = (ticks(), Instant::now());
    let _ = fleet.wait_with_output();
    let share = (ticks() - c0) / t0.elapsed().as_secs_f64();
    let mut master = master;
    let _ = master.kill();
    let _ = master.wait();
    let _ = std::fs::remove_dir_all(&dir);
    Some(share)
}
