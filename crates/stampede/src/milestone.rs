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
    WebUi {
        /// Where a browser reaches it.
        url: String,
    },
    /// The test ramps to `users` at `rate` per second; `shape` when a load shape asked.
    Ramping {
        /// The user count asked for.
        users: u64,
        /// Users started per second on the way there.
        rate: f64,
        /// Whether a load shape asked for it (Locust logs those as shape updates).
        shape: bool,
    },
    /// Every user asked for is running: the count per user type.
    Spawned {
        /// (user type, running users), in plan order.
        users: Vec<(String, u64)>,
    },
    /// The test is ending, and why.
    Ending(Ending),
}

/// Why a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Stopped from outside: Ctrl-C, the UI's stop button, a shutdown token, a master.
    Stopped,
    /// The run time (`-t`) passed.
    RunTime,
    /// The load shape returned `None`.
    ShapeEnded,
    /// Every user stopped by itself.
    UsersEnded,
}

impl Ending {
    /// The ending in words, for log lines and reports.
    pub fn describe(self) -> &'static str {
        match self {
            Ending::Stopped => "stopped",
            Ending::RunTime => "run time reached",
            Ending::ShapeEnded => "the load shape has ended",
            Ending::UsersEnded => "every user has stopped",
        }
    }
}
