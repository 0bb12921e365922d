//! The generator's own health: can it still send on schedule?
//!
//! Response times stay right on a busy generator (the kernel stamps them), but the load it
//! sends does not: users wake late, so fewer requests go out than were asked for. Two
//! measures say so. *Scheduler lag*: the aggregator's own quarter-second tick, on the same
//! runtime as the users, compared with when it was due. *CPU share*: this process's CPU
//! time over the cores it may run on. Locust warns at 90 % CPU; we also say how far behind
//! the schedule fell, and for how long.
//!
//! A lag is not always the plan's doing, and the advice must fit the cause. When this
//! process uses little of its cores and still runs late, other processes hold the CPU:
//! "use fewer users" was wrong advice for 2 users beside three CPU-bound programs, so the
//! alarm says the machine is busy and gives its load average. And starting users costs a
//! moment of the runtime: a short lag while the spawner runs (10,000 idle users at rate
//! 1,000 lagged 18 ms) is not the load falling behind.

use std::time::Duration;

use tokio::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::entry::{new_histogram, record_us};

/// A second in which the scheduler fell this far behind is a saturated second.
pub const LAG_ALARM: Duration = Duration::from_millis(10);
/// ... as is one in which the process used this share of its cores.
pub const CPU_ALARM: f64 = 0.9;
/// Saturated seconds in a row before the alarm is raised (a single hiccup, such as
/// spawning a thousand users at once, is not saturation).
const ALARM_AFTER: u32 = 2;
/// Below this CPU share, a lagging process is not the one using the CPU: the machine is.
pub const OWN_CPU_LOW: f64 = 0.5;
/// A lag shorter than this, in a second when the spawner started or stopped users (or the
/// one after, as a late tick is noted when it finally runs), is the spawn's: the spawner
/// yields every few users, so anything longer is something else holding the runtime.
pub const SPAWN_LAG_GRACE: Duration = Duration::from_millis(100);

/// What the report and the UI show.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct GeneratorReport {
    /// The alarm was raised at least once.
    pub saturated: bool,
    /// Whole seconds counted as saturated (lag over 10 ms, a spawn's short lag aside, or
    /// CPU over 90 %).
    pub saturated_secs: u64,
    pub worst_lag_ms: f64,
    pub lag_p99_ms: f64,
    /// Of the cores this process may use (its affinity mask and cgroup quota).
    pub peak_cpu_percent: f64,
    pub cores: u64,
    /// The alarm is up now.
    pub saturated_now: bool,
}

/// Samples of one generator, owned by its aggregator.
#[derive(Clone, Debug)]
pub struct Generator {
    lags_us: Histogram<u64>,
    worst_lag: Duration,
    second_lag: Duration,
    saturated_secs: u64,
    in_a_row: u32,
    alarm: bool,
    ever: bool,
    peak_cpu: f64,
    cores: u64,
    /// When (wall clock, even under paused test time) and how much CPU was last sampled.
    cpu: Option<(std::time::Instant, Duration)>,
    /// The highest CPU share measured in the saturated seconds in a row so far.
    streak_cpu: Option<f64>,
    /// The spawner's moves at the end of the last second, and whether that second had any.
    spawner: (u64, bool),
}

impl Default for Generator {
    fn default() -> Self {
        Self {
            lags_us: new_histogram(),
            worst_lag: Duration::ZERO,
            second_lag: Duration::ZERO,
            saturated_secs: 0,
            in_a_row: 0,
            alarm: false,
            ever: false,
            peak_cpu: 0.0,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            cpu: None,
            streak_cpu: None,
            spawner: (0, false),
        }
    }
}

/// The alarm going up or down, for the console.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Alarm {
    Raised {
        lag: Duration,
        cpu: f64,
        cores: u64,
        cause: Cause,
    },
    Cleared {
        secs: u64,
    },
}

/// Who holds the CPU when the generator falls behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cause {
    /// This process: its users ask more than its cores can do.
    Load,
    /// Other processes: this one used little CPU (under [`OWN_CPU_LOW`]) and still ran
    /// late. `load` is the machine's one-minute load average, when known.
    BusyMachine { load: Option<f64> },
}

/// What one second measured, the input of the alarm's decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Second {
    /// The worst lag of the scheduler's ticks in the second.
    pub lag: Duration,
    /// This process's share of its cores, once there is a previous sample to compare.
    pub cpu: Option<f64>,
    /// The machine's one-minute load average (`/proc/loadavg`), where there is one.
    pub load: Option<f64>,
    /// The spawner started or stopped users in this second or the one before.
    pub spawning: bool,
}

impl Second {
    /// Whether the second counts as saturated.
    fn saturated(&self) -> bool {
        let spawn_hiccup = self.spawning && self.lag < SPAWN_LAG_GRACE;
        (self.lag >= LAG_ALARM && !spawn_hiccup) || self.cpu.is_some_and(|c| c >= CPU_ALARM)
    }
}

impl Generator {
    /// A tick that was due at `due` ran now.
    pub fn note_tick(&mut self, due: Instant) {
        let lag = Instant::now().saturating_duration_since(due);
        record_us(&mut self.lags_us, lag.as_micros() as u64);
        self.worst_lag = self.worst_lag.max(lag);
        self.second_lag = self.second_lag.max(lag);
    }

    /// Ends a second: samples the CPU and the load average, decides whether the second was
    /// saturated, and says when the alarm changes. `spawner_moves` is the running count of
    /// users the spawner started or stopped ([`super::UserCounts::spawner_moves`]).
    pub fn end_second(&mut self, spawner_moves: u64) -> Option<Alarm> {
        let second = Second {
            lag: std::mem::take(&mut self.second_lag),
            cpu: self.sample_cpu(),
            load: load_average(),
            spawning: self.spawning(spawner_moves),
        };
        self.judge(second)
    }

    /// Whether the spawner moved in the second now ending or the one before.
    fn spawning(&mut self, spawner_moves: u64) -> bool {
        let moved = spawner_moves != self.spawner.0;
        let spawning = moved || self.spawner.1;
        self.spawner = (spawner_moves, moved);
        spawning
    }

    /// The decision itself, on one second's measures.
    pub fn judge(&mut self, second: Second) -> Option<Alarm> {
        if second.saturated() {
            self.saturated_secs += 1;
            self.in_a_row += 1;
            self.streak_cpu = match (self.streak_cpu, second.cpu) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        } else {
            self.in_a_row = 0;
            self.streak_cpu = None;
        }
        match (self.alarm, self.in_a_row >= ALARM_AFTER) {
            (false, true) => {
                self.alarm = true;
                self.ever = true;
                // Without a CPU measure, the cause is not known: the load's advice stands.
                let cause = match self.streak_cpu {
                    Some(c) if c < OWN_CPU_LOW => Cause::BusyMachine { load: second.load },
                    _ => Cause::Load,
                };
                Some(Alarm::Raised {
                    lag: second.lag,
                    cpu: second.cpu.unwrap_or(0.0),
                    cores: self.cores,
                    cause,
                })
            }
            (true, false) => {
                self.alarm = false;
                Some(Alarm::Cleared {
                    secs: self.saturated_secs,
                })
            }
            _ => None,
        }
    }

    /// This process's CPU share of its cores since the last sample.
    fn sample_cpu(&mut self) -> Option<f64> {
        let used = process_cpu()?;
        let now = std::time::Instant::now();
        let share = self.cpu.map(|(at, before)| {
            let wall = now.duration_since(at).as_secs_f64().max(1e-3);
            used.saturating_sub(before).as_secs_f64() / wall / self.cores as f64
        });
        self.cpu = Some((now, used));
        if let Some(s) = share {
            self.peak_cpu = self.peak_cpu.max(s);
        }
        share
    }

    pub fn report(&self) -> GeneratorReport {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        GeneratorReport {
            saturated: self.ever,
            saturated_secs: self.saturated_secs,
            worst_lag_ms: ms(self.worst_lag),
            lag_p99_ms: self.lags_us.value_at_quantile(0.99) as f64 / 1000.0,
            peak_cpu_percent: self.peak_cpu * 100.0,
            cores: self.cores,
            saturated_now: self.alarm,
        }
    }

    /// Takes in another generator's report (a worker's): the worst of either.
    pub fn merge(&mut self, other: &GeneratorReport) {
        let lag = Duration::from_secs_f64(other.worst_lag_ms.clamp(0.0, 3.6e6) / 1000.0);
        self.worst_lag = self.worst_lag.max(lag);
        record_us(
            &mut self.lags_us,
            (other.lag_p99_ms.clamp(0.0, 3.6e6) * 1000.0) as u64,
        );
        self.saturated_secs = self.saturated_secs.max(other.saturated_secs);
        self.ever |= other.saturated;
        self.peak_cpu = self
            .peak_cpu
            .max(other.peak_cpu_percent.clamp(0.0, 100.0) / 100.0);
    }
}

/// The machine's one-minute load average: runnable (and uninterruptible) tasks, averaged.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// User plus system CPU time of this process.
fn process_cpu() -> Option<Duration> {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    Some(tv(u.user_time()) + tv(u.system_time()))
}

/// The console's words when the alarm goes up or down.
impl std::fmt::Display for Alarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (lag, cpu, cores, cause) = match *self {
            Alarm::Raised {
                lag,
                cpu,
                cores,
                cause,
            } => (lag.as_secs_f64() * 1000.0, cpu * 100.0, cores, cause),
            Alarm::Cleared { secs } => {
                return write!(
                    f,
                    "the generator keeps its schedule again ({secs} s saturated so far)"
                )
            }
        };
        match cause {
            Cause::Load => write!(
                f,
                "the generator is saturated: its scheduler fell {lag:.0} ms behind in the last second (CPU {cpu:.0}% of {cores} cores), so it sends less load than was asked; response times stay right. Use fewer users per process or more workers (--master/--worker)"
            ),
            Cause::BusyMachine { load } => {
                let load = load.map_or_else(|| "unknown".to_owned(), |l| format!("{l:.2}"));
                write!(
                    f,
                    "the machine is busy: the generator's scheduler fell {lag:.0} ms behind in the last second while it used only {cpu:.0}% of its {cores} cores (load average {load}): other processes hold the CPU, so it sends less load than was asked (on an idle machine, a task that blocks its thread is the likelier cause); response times stay right. Free the machine, or run the generator on another one"
                )
            }
        }
    }
}

impl std::fmt::Display for GeneratorReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.saturated {
            write!(
                f,
                "Generator: SATURATED for {} s (worst scheduler lag {:.1} ms, p99 {:.1} ms, peak CPU {:.0}% of {} cores): it could not send the load that was asked for",
                self.saturated_secs, self.worst_lag_ms, self.lag_p99_ms, self.peak_cpu_percent, self.cores
            )?;
            // A peak of 0 is no measure at all.
            if self.peak_cpu_percent > 0.0 && self.peak_cpu_percent < OWN_CPU_LOW * 100.0 {
                write!(
                    f,
                    "; it used little CPU itself, so the machine was busy with other work"
                )?;
            }
            Ok(())
        } else {
            write!(
                f,
                "Generator: kept its schedule (worst scheduler lag {:.1} ms, p99 {:.1} ms, peak CPU {:.0}% of {} cores)",
                self.worst_lag_ms, self.lag_p99_ms, self.peak_cpu_percent, self.cores
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(lag_ms: u64, cpu: Option<f64>, load: Option<f64>, spawning: bool) -> Second {
        Second {
            lag: Duration::from_millis(lag_ms),
            cpu,
            load,
            spawning,
        }
    }

    /// The alarms `seconds` raise or clear, one judged after the other.
    fn judge_all(g: &mut Generator, seconds: &[Second]) -> Vec<Alarm> {
        seconds.iter().filter_map(|s| g.judge(*s)).collect()
    }

    #[test]
    fn a_lag_with_little_cpu_of_its_own_names_the_busy_machine_and_its_load() {
        // The case: 2 users with long waits beside three CPU-bound processes.
        let mut g = Generator::default();
        let busy = second(40, Some(0.01), Some(3.9), false);
        let alarms = judge_all(&mut g, &[busy, busy]);
        let [alarm] = alarms[..] else {
            panic!("one alarm: {alarms:?}")
        };
        assert!(matches!(
            alarm,
            Alarm::Raised {
                cause: Cause::BusyMachine { load: Some(l) },
                ..
            } if l == 3.9
        ));
        let text = alarm.to_string();
        assert!(text.contains("machine is busy"), "{text}");
        assert!(text.contains("load average 3.90"), "{text}");
        assert!(!text.contains("fewer users"), "{text}");
    }

    #[test]
    fn a_lag_while_it_uses_its_cores_is_the_load_and_asks_for_fewer_users() {
        for cpu in [0.7, 0.95] {
            let mut g = Generator::default();
            let hot = second(40, Some(cpu), Some(1.0), false);
            let alarms = judge_all(&mut g, &[hot, hot]);
            assert!(
                matches!(
                    alarms[..],
                    [Alarm::Raised {
                        cause: Cause::Load,
                        ..
                    }]
                ),
                "CPU {cpu}: {alarms:?}"
            );
            assert!(alarms[0].to_string().contains("fewer users"));
        }
        // Busy for a second, then the process itself fills its cores: the load is to blame.
        let mut g = Generator::default();
        let alarms = judge_all(
            &mut g,
            &[
                second(40, Some(0.05), Some(4.0), false),
                second(5, Some(0.95), Some(4.0), false),
            ],
        );
        assert!(matches!(
            alarms[..],
            [Alarm::Raised {
                cause: Cause::Load,
                ..
            }]
        ));
    }

    #[test]
    fn without_a_cpu_measure_the_advice_stays_the_loads() {
        let mut g = Generator::default();
        let blind = second(40, None, Some(3.0), false);
        let alarms = judge_all(&mut g, &[blind, blind]);
        assert!(matches!(
            alarms[..],
            [Alarm::Raised {
                cause: Cause::Load,
                ..
            }]
        ));
    }

    #[test]
    fn a_short_lag_while_the_spawner_runs_is_not_saturation() {
        // bench/memory's case: 10,000 idle users at rate 1,000, an 18 ms lag, 10 % CPU.
        let mut g = Generator::default();
        let spawn = second(18, Some(0.1), Some(0.5), true);
        assert!(judge_all(&mut g, &[spawn; 10]).is_empty());
        let report = g.report();
        assert!(
            !report.saturated && report.saturated_secs == 0,
            "{report:?}"
        );
        // A long lag, or a full CPU, is saturation even while users start.
        for s in [
            second(150, Some(0.1), Some(3.0), true),
            second(0, Some(0.95), Some(1.0), true),
        ] {
            let mut g = Generator::default();
            assert_eq!(judge_all(&mut g, &[s, s]).len(), 1, "{s:?}");
        }
        // And the same short lag with no spawn under way counts.
        let mut g = Generator::default();
        let late = second(18, Some(0.1), Some(3.0), false);
        assert_eq!(judge_all(&mut g, &[late, late]).len(), 1);
    }

    #[test]
    fn the_spawner_excuses_the_second_it_moved_in_and_the_next() {
        let mut g = Generator::default();
        assert!(!g.spawning(0));
        assert!(g.spawning(16), "users started in this second");
        assert!(
            g.spawning(16),
            "the second after: a late tick is noted when it runs"
        );
        assert!(!g.spawning(16));
        assert!(g.spawning(17));
    }

    #[test]
    fn the_summary_says_the_machine_was_busy_when_the_process_used_little_cpu() {
        let mut report = GeneratorReport {
            saturated: true,
            saturated_secs: 3,
            worst_lag_ms: 40.0,
            lag_p99_ms: 30.0,
            peak_cpu_percent: 2.0,
            cores: 2,
            saturated_now: false,
        };
        assert!(report.to_string().contains("machine was busy"));
        report.peak_cpu_percent = 95.0;
        assert!(!report.to_string().contains("machine was busy"));
    }
}
