//! The one entry point of a plan binary: the whole command line (Locust's flags, the
//! plan's own options, config file and `STAMPEDE_*` variables), a run in the mode it asks
//! for, Ctrl-C, and the exit code.
//!
//! ```no_run
//! use stampede::prelude::*;
//!
//! # fn plan() -> Plan { Plan::new() }
//! fn main() -> std::process::ExitCode {
//!     stampede::main(plan())
//! }
//! ```

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config::{parse_host, NoOptions, Options};
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::run::{cancel_on_signal, init_logging, parse_args, run_built_with_shutdown};

/// What keeps a default target alive for the run: dropped when the run has ended.
type Guard = Box<dyn Any + Send>;

/// A default target starting: its URL and guard, or why it did not start.
type Starting = BoxFuture<'static, Result<(String, Guard), String>>;

/// Starts a target when the command line names none.
type DefaultHost<P> = Box<dyn FnOnce(&P) -> Starting + Send>;

/// A plan binary: its plan (built from its options `P`, so that a worker can rebuild it
/// from the options its master forwards), and what to aim at when `--host` is absent.
pub struct App<P: Args = NoOptions> {
    build: Arc<dyn Fn(&P) -> Plan + Send + Sync>,
    default_host: Option<DefaultHost<P>>,
}

/// The whole `main` of a plan without options of its own: `stampede::main(plan())`.
pub fn main(plan: Plan) -> ExitCode {
    App::new(plan).main()
}

impl App<NoOptions> {
    /// A plan without options of its own.
    pub fn new(plan: Plan) -> Self {
        App::with_options(move |_: &NoOptions| plan.clone())
    }
}

impl<P: Args + 'static> App<P> {
    /// A plan with options of its own (a `#[derive(clap::Args)]` struct, Locust's
    /// `init_command_line_parser`), built once they are parsed. They show in `--help` and
    /// are forwarded to workers, which build the plan again from them.
    pub fn with_options(build: impl Fn(&P) -> Plan + Send + Sync + 'static) -> Self {
        Self {
            build: Arc::new(build),
            default_host: None,
        }
    }

    /// With no `--host` (and not as a worker or master), runs `start` first and aims the
    /// swarm at the URL it returns: an embedded target, as the workshop's examples start
    /// the Hoodie Shop. What it returns beside the URL is kept until the run has ended,
    /// then dropped (stop the target there, or say what it saw).
    pub fn default_host<F, Fut, G, E>(mut self, start: F) -> Self
    where
        F: FnOnce(&P) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(String, G), E>> + Send + 'static,
        G: Send + 'static,
        E: Display,
    {
        self.default_host = Some(Box::new(move |opts: &P| {
            let started = start(opts);
            Box::pin(async move {
                match started.await {
                    Ok((url, guard)) => Ok((url, Box::new(guard) as Guard)),
                    Err(e) => Err(e.to_string()),
                }
            })
        }));
        self
    }

    /// Parses this process's arguments, runs until done or Ctrl-C / SIGTERM, and returns
    /// the exit code. It starts the tokio runtime itself: `main` needs no `#[tokio::main]`.
    pub fn main(self) -> ExitCode {
        let rt = runtime();
        let code = rt.block_on(async {
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            let argv = match utf8_args(std::env::args_os()) {
                Ok(argv) => argv,
                Err(message) => {
                    eprintln!("error: {message}");
                    return crate::run::EXIT_USAGE;
                }
            };
            match self.run(argv, shutdown).await {
                Ok(outcome) => outcome.exit_code,
                Err(code) => code,
            }
        });
        ExitCode::from(code.clamp(0, 255) as u8)
    }

    /// [`main`](Self::main) on a running runtime, with `argv` (program name first) and a
    /// `shutdown` token that ends the run as Ctrl-C does. `Err` holds the exit code of a run
    /// that never started (`--help`: 0, bad usage: 2).
    pub async fn run(
        self,
        argv: impl IntoIterator<Item = String>,
        shutdown: CancellationToken,
    ) -> Result<Outcome, i32> {
        let mut cli = parse_args::<P>(argv)?;
        init_logging(&cli.options.loglevel, cli.options.logfile.as_deref());
        let mut guard = None;
        if let Some(start) = self.default_host {
            if needs_host(&cli.options) {
                // A plan the command line cannot run (an unknown user type, a funnel step
                // listed twice) is said before any target starts.
                let o = &cli.options;
                let plan = (self.build)(&cli.plan);
                if let Err(e) = plan.select(&o.user_types, &o.tags, &o.exclude_tags) {
                    eprintln!("error: {e}");
                    return Err(crate::run::EXIT_USAGE);
                }
                let (host, g) = start_default_host(start(&cli.plan)).await?;
                cli.options.host = Some(host);
                guard = Some(g);
            }
        }
        let build = self.build;
        let outcome = run_built_with_shutdown(&cli, move |p: &P| build(p), shutdown).await;
        drop(guard);
        outcome
    }
}

/// The arguments as UTF-8, or a usage error that names the first one that is not.
/// (`std::env::args` panics on such an argument; a usage error is what it is.)
pub(crate) fn utf8_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<Vec<String>, String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            a.into_string().map_err(|bad| {
                format!(
                    "argument {i} is not valid UTF-8: {:?} (every argument must be UTF-8 text)",
                    bad.to_string_lossy()
                )
            })
        })
        .collect()
}

/// Runs the default-host hook and reads its URL; `Err` is the exit code, said first.
async fn start_default_host(started: Starting) -> Result<(url::Url, Guard), i32> {
    let (url, guard) = started.await.map_err(|e| {
        eprintln!("error: no --host given, and the plan's default target did not start: {e}");
        1
    })?;
    match parse_host(&url) {
        Ok(host) => Ok((host, guard)),
        Err(e) => {
            eprintln!(
                "error: no --host given, and the plan's default target gave an unusable URL: {e}"
            );
            Err(1)
        }
    }
}

/// Whether this run swarms a host of its own choosing: not a worker (its master names
/// one), a master, or a command that only prints.
fn needs_host(o: &Options) -> bool {
    o.host.is_none()
        && !o.worker
        && !o.master
        && !o.list
        && !o.print_locustfile
        && !o.show_task_ratio
}

/// The runtime a run gets: one thread per core the process may use. With a single core
/// (`taskset -c 0`, a one-CPU container) it is tokio's current-thread scheduler, which
/// does the same work without the cross-thread handoffs of a one-worker pool.
fn runtime() -> tokio::runtime::Runtime {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}
