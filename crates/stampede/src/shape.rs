//! Load that changes over time: Locust's `LoadTestShape`, and stages from the command line
//! (`--stage 10:2:30s --stage 50:5:1m`, as k6 writes them).

use std::str::FromStr;
use std::time::Duration;

use crate::values::parse_duration;

/// Decides the user count as the test goes on.
pub trait LoadShape: Send + Sync {
    /// Users and spawn rate wanted `elapsed` into the test; `None` ends the test.
    fn tick(&self, elapsed: Duration) -> Option<(u64, f64)>;
}

/// Hold `users` (reached at `spawn_rate`) for `duration`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Users to hold.
    pub users: u64,
    /// Users started (or stopped) per second to get there.
    pub spawn_rate: f64,
    /// How long the stage lasts, its ramp included.
    pub duration: Duration,
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("'{s}' is not a stage; write USERS:SPAWN_RATE:DURATION, such as 50:5:1m");
        let mut parts = s.split(':');
        let (Some(u), Some(r), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let users = u.trim().parse().map_err(|_| bad())?;
        let spawn_rate: f64 = r.trim().parse().map_err(|_| bad())?;
        if !(spawn_rate > 0.0 && spawn_rate.is_finite()) {
            return Err(bad());
        }
        let duration = parse_duration(d).map_err(|_| bad())?;
        Ok(Stage {
            users,
            spawn_rate,
            duration,
        })
    }
}

/// Stages run one after the other; the test ends after the last.
#[derive(Clone, Debug, PartialEq)]
pub struct Stages(pub Vec<Stage>);

impl LoadShape for Stages {
    fn tick(&self, elapsed: Duration) -> Option<(u64, f64)> {
        let mut end = Duration::ZERO;
        for s in &self.0 {
            end += s.duration;
            if elapsed < end {
                return Some((s.users, s.spawn_rate));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_and_follow_each_other() {
        let shape = Stages(vec![
            "10:2:30s".parse().unwrap(),
            "50:5:1m".parse().unwrap(),
        ]);
        assert_eq!(shape.tick(Duration::ZERO), Some((10, 2.0)));
        assert_eq!(shape.tick(Duration::from_secs(31)), Some((50, 5.0)));
        assert_eq!(shape.tick(Duration::from_secs(91)), None);
        for bad in ["10:2", "x:2:30s", "10:0:30s", "10:2:soon", "1:2:3:4"] {
            assert!(bad.parse::<Stage>().unwrap_err().contains(bad));
        }
    }
}
