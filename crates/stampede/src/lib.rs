//! Stampede: load testing in Rust, in the manner of Locust.
//!
//! A plan describes user types (who visits, in what proportion, waiting how long) and their
//! tasks (async functions over the user's own state and HTTP session). The runner swarms a
//! host with them and measures every request. `docs/getting-started.md` walks through a
//! plan in a crate of its own.
//!
//! ```no_run
//! use stampede::prelude::*;
//!
//! struct Visitor { client: Client }
//!
//! impl Visitor {
//!     async fn home(&mut self) -> TaskResult<Response> {
//!         self.client.get("/").expect_status(200).await
//!     }
//! }
//!
//! fn main() -> ExitCode {
//!     stampede::main(Plan::new().user_type(
//!         UserType::new("Visitor", |ctx| Visitor { client: ctx.client() })
//!             .wait_time(between(1.0, 3.0))
//!             .task(task!(Visitor::home)),
//!     ))
//! }
//! ```
//!
//! # Layers
//!
//! The top-level modules, from the bottom up; a module imports only those in its own layer
//! or below, and no two files import each other (`tests/layers.rs` checks both, and lists
//! the few upward imports the all-modes `Options` still makes):
//!
//! 1. `stats`, `wait`, `fake`, `funnel`, `arrivals`, `capacity`, `assets`: counting, waits,
//!    fake data, limits, no I/O policy of their own;
//! 2. `threshold`, `client`: verdicts on stats; the HTTP client and its trace context;
//! 3. `task`: what a task returns, and the client's task-facing glue (`think`, `.await`);
//! 4. `user`: a user type and its context;
//! 5. `runner`, `shape`, `milestone`: spawning and stopping users (and the seam other fronts plug into:
//!    [`advanced::ErasedUserType`]); load shapes; the moments of a test a front reports;
//! 6. `plan`: user types, funnel, hooks;
//! 7. `inspect`, `lifecycle`, `report`, `telemetry`: printing a plan; one test's life;
//!    reports; exporters;
//! 8. `outcome`, `swarm`: how a run ends (tables, verdicts, reports, exit code); a runner
//!    with its stats;
//! 9. `distributed`: master and worker on Locust's protocol;
//! 10. `config`: the command line and its files;
//! 11. `headless`, `web`: the two fronts of a run;
//! 12. `run`, `app`: the entry points.

mod app;
pub mod arrivals;
mod assets;
pub mod capacity;
pub mod client;
pub mod config;
pub mod distributed;
pub mod fake;
mod funnel;
mod headless;
mod inspect;
pub mod lifecycle;
mod milestone;
mod outcome;
mod plan;
mod relay;
pub mod report;
mod run;
pub mod runner;
pub mod shape;
pub mod stats;
mod swarm;
mod task;
pub mod telemetry;
pub mod threshold;
mod user;
mod wait;
pub mod web;

pub use app::{main, App};
pub use client::{
    Client, ClientConfig, ClientError, ExtractError, RequestError, RequestEvent, Response,
    UserError,
};
pub use config::{Cli, NoOptions, Options};
pub use funnel::{FunnelName, Step};
pub use outcome::{Outcome, RunError};
pub use plan::{Plan, SelectionError};

/// The steps [`App`] is made of, for tests and programs that drive a run themselves:
/// parse a command line, then run it with a shutdown token of their own.
///
/// It is also the seam for users written in something other than Rust:
/// [`ErasedUserType`](advanced::ErasedUserType) is how another front plugs its users into
/// the runner.
pub mod advanced {
    pub use crate::relay::{Inbound, Outgoing, Relay, SendError, REPORT_WAIT};
    pub use crate::run::{
        run_built_with_shutdown, run_with_shutdown, try_parse_args, Usage, EXIT_USAGE,
    };
    pub use crate::runner::{ErasedUserType, UserControl};
}
pub use swarm::{MasterConfig, Swarm, SwarmConfig};
pub use task::{AsyncUserFn, IntoTaskResult, Task, TaskError, TaskFn, TaskFuture, TaskResult};
pub use user::{TaskInfo, UserContext, UserType, UserTypeInfo};
pub use wait::{between, constant, constant_pacing, constant_throughput, WaitTime};

/// Re-exported so plans need no direct dependency to declare options or cancel runs.
pub use clap;
pub use tokio;
pub use tokio_util::sync::CancellationToken;

/// What a plan usually needs.
pub mod prelude {
    pub use std::process::ExitCode;

    pub use crate::fake;
    pub use crate::{
        between, constant, constant_pacing, constant_throughput, funnel, task, App, Client, Plan,
        Response, Step, Task, TaskError, TaskResult, UserContext, UserType,
    };
    /// `json!({..})` for request bodies, without a `serde_json` dependency of the plan's own.
    pub use serde_json::json;
}
