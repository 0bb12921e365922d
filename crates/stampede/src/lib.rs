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
//! 1. `stats`, `wait`, `fake`, `funnel`, `arrivals`, `capacity`, `assets`, `values`:
//!    counting, waits, fake data, limits, values as people write them; no I/O policy of
//!    their own;
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

#![warn(missing_docs)]

mod app;
mod arrivals;
mod assets;
mod capacity;
mod client;
mod config;
// Its files are another change's to edit: the items `advanced::distributed` re-exports
// (`Message`, `WorkerInfo`, `Admission`, `FrameError`) get their missing docs there, and this
// `expect` goes then (it fails once nothing in distributed/ lacks docs).
mod distributed;
pub mod fake;
mod funnel;
mod headless;
mod inspect;
mod lifecycle;
mod milestone;
mod outcome;
mod plan;
mod relay;
mod report;
mod run;
mod runner;
mod shape;
mod stats;
mod swarm;
mod task;
mod telemetry;
mod threshold;
mod user;
mod values;
mod wait;
mod web;

pub use app::{main, App};
pub use client::{
    Client, ClientError, ExtractError, Redirect, RequestBuilder, RequestError, RequestEvent,
    Response, UserError,
};
pub use funnel::{FunnelName, Step};
pub use plan::Plan;
pub use shape::LoadShape;
pub use task::{Task, TaskError, TaskResult};
pub use user::{UserContext, UserType};
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

/// What a plan does not need: the steps [`App`] is made of, for tests and programs that
/// drive a run themselves (parse a command line, then run it with a shutdown token of their
/// own), and the parts of the engine other fronts build on.
///
/// It is also the seam for users written in something other than Rust:
/// [`ErasedUserType`](advanced::ErasedUserType) is how another front plugs its users into
/// the runner. Nothing here is needed to write a plan, and it may change more often.
pub mod advanced {
    pub use crate::outcome::Outcome;
    pub use crate::relay::{Inbound, Outgoing, Relay, SendError, UiOption, REPORT_WAIT};
    pub use crate::run::{
        run_built_with_shutdown, run_with_shutdown, try_parse_args, Usage, EXIT_USAGE,
    };
    pub use crate::runner::{ErasedUserType, UserControl};

    /// The memory a user's cookies may take, for tests that hold clients to it.
    pub mod capacity {
        pub use crate::capacity::COOKIE_BUDGET;
    }

    /// A client built by hand (outside a user), and the seam of a front that records its
    /// requests itself.
    pub mod client {
        pub use crate::client::{ClientConfig, Pending, Phase, Unrecorded, DEFAULT_MAX_BODY};
    }

    /// The command line every plan binary accepts, and its config file.
    pub mod config {
        pub use crate::config::{expand_config_file, Cli, NoOptions, Options};
    }

    /// Locust's master-worker protocol, for tests and benches that speak it directly.
    pub mod distributed {
        pub use crate::distributed::{
            stats_payload, Admission, FrameError, Message, Payload, Report, WorkerInfo,
            WorkerState, MAX_FRAME,
        };
    }

    /// One test's life (start, changes, end), and the moments another front reports.
    pub mod lifecycle {
        pub use crate::lifecycle::{run_test, Change, Ended, Ending, Finish, Milestone, Schedule};
    }

    /// A plan as another front reads it: its user types and their tasks.
    pub mod plan {
        pub use crate::user::{TaskInfo, UserTypeInfo};
    }

    /// The final report's problems section (failures, exceptions, unanswered requests) as
    /// text.
    pub mod report {
        pub use crate::report::console::problems;
    }

    /// Stages, the load shape `--stage` builds.
    pub mod shape {
        pub use crate::shape::{Stage, Stages};
    }

    /// The statistics actor and what users record into it.
    pub mod stats {
        pub use crate::stats::{
            spawn_aggregator, unix_now, Event, Names, Recorder, StatsHandle, StatsState,
            UserCounts, OTHER_FAILURES,
        };
    }

    /// A plan's runner and statistics started by hand, without a front.
    pub mod swarm {
        pub use crate::plan::SelectionError;
        pub use crate::swarm::{MasterConfig, Swarm, SwarmConfig};
    }

    /// What a task function must be, behind [`task!`](crate::task) and
    /// [`UserType::on_start`](crate::UserType::on_start): a plan never names these traits,
    /// but its compile errors do.
    pub mod task {
        pub use crate::task::{AsyncUserFn, IntoTaskResult, TaskFn, TaskFuture};
    }

    /// The web UI's router and server, mounted by hand.
    pub mod web {
        pub use crate::web::serve::{serve, Limits};
        pub use crate::web::{router, Control, Guard, StartRequest};
    }
}
