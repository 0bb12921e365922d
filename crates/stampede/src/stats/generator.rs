//! The generator's own health: can it still send on schedule?
//!
//! Response times stay right on a busy generator (the kernel stamps them), but the load it
//! sends does not: users wake late, so fewer requests go out than were asked for. Two
//! measures say so. *Scheduler lag*: the aggregator's own quarter-second tick, on the same
//! runtime as the users, compared with when it was due. *CPU share*: this process's CPU
//! time over the cores it may run on. Locust warns at 90 % CPU; we also say how far behind
//! the schedule fell, and for how long.

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

/// What the report and the UI show.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct GeneratorReport {
    /// The alarm was raised at least once.
    pub saturated: bool,
    /// Whole seconds counted as saturated (lag over 10 ms or CPU over 90 %).
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
        }
    }
}

/// The alarm going up or down, for the console.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Alarm {
    Raised { lag: Duration, cpu: f64, cores: u64 },
    Cleared { secs: u64 },
}

impl Generator {
    /// A tick that was due at `due` ran now.
    pub fn note_tick(&mut self, due: Instant) {
        let lag = Instant::now().saturating_duration_since(due);
        record_us(&mut self.lags_us, lag.as_micros() as u64);
        self.worst_lag = self.worst_lag.max(lag);
        self.second_lag = self.second_lag.max(lag);
    }

    /// Ends a second: samples the CPU, decides whether it was saturated, and says when the
    /// alarm changes.
    pub fn end_second(&mut self) -> Option<Alarm> {
        let cpu = self.sample_cpu();
        let lag = std::mem::take(&mut self.second_lag);
        let saturated = lag >= LAG_ALARM || cpu.is_some_and(|c| c >= CPU_ALARM);
        if saturated {
            self.saturated_secs += 1;
            self.in_a_row += 1;
        } else {
            self.in_a_row = 0;
        }
        match (self.alarm, self.in_a_row >= ALARM_AFTER) {
            (false, true) => {
                self.alarm = true;
                self.ever = true;
                Some(Alarm::Raised {
                    lag,
                    cpu: cpu.unwrap_or(0.0),
                    cores: self.cores,
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

impl std::fmt::Display for GeneratorReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.saturated {
            write!(
                f,
                "Generator: SATURATED for {} s (worst scheduler lag {:.1} ms, p99 {:.1} ms, peak CPU {:.0}% of {} cores): it could not send the load that was asked for",
                self.saturated_secs, self.worst_lag_ms, self.lag_p99_ms, self.peak_cpu_percent, self.cores
            )
        } else {
            write!(
                f,
                "Generator: kept its schedule (worst scheduler lag {:.1} ms, p99 {:.1} ms, peak CPU {:.0}% of {} cores)",
                self.worst_lag_ms, self.lag_p99_ms, self.peak_cpu_percent, self.cores
            )
        }
    }
}
