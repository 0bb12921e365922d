//! The moments of a test's life that a front reports in its own words (the Python front
//! prints Locust's log lines and fires its events from them), and why a test ended. Below
//! the plan, which holds their observers, and the lifecycle, which tells them.

/// A moment in a test's life, told to [`Plan::on_milestone`](crate::Plan::on_milestone) observers: another front
/// (the Python one) says them in its own words, as Locust's log lines, and fires its own
/// events (`spawning_complete`) from them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Milestone {
    /// The web UI listens at `url`.
    WebUi { url: String },
    /// The test ramps to `users` at `rate` per second; `shape` when a load shape asked.
    Ramping { users: u64, rate: f64, shape: bool },
    /// Every user asked for is running: the count per user type.
    Spawned { users: Vec<(String, u64)> },
    /// The test is ending, and why.
    Ending(Ending),
}

/// Why a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Stopped,
    RunTime,
    ShapeEnded,
    UsersEnded,
}

impl Ending {
    pub fn describe(self) -> &'static str {
        match self {
            Ending::Stopped => "stopped",
            Ending::RunTime => "run time reached",
            Ending::ShapeEnded => "the load shape has ended",
            Ending::UsersEnded => "every user has stopped",
        }
    }
}
