//! Parsing a plan binary's command line and running it: what [`crate::App`] does, and the
//! steps it is made of, for tests and programs that drive a run themselves.

use clap::{Args, CommandFactory, FromArgMatches};
use tokio_util::sync::CancellationToken;

use crate::config::{expand_config_file, Cli};
use crate::distributed::Rebuild;
use crate::headless::run_headless;
use crate::outcome::{Outcome, RunError};
use crate::plan::Plan;

/// Exit code for bad usage, as clap uses.
pub const EXIT_USAGE: i32 = 2;

/// A command line that did not lead to a run: `--help` (code 0) or bad usage (code 2),
/// with the text to show.
#[derive(Debug)]
pub struct Usage {
    /// The exit code: 0 for `--help`, [`EXIT_USAGE`] for bad usage.
    pub code: i32,
    /// The help or the error, as clap renders it.
    pub message: String,
}

/// Parses `argv` (program name first) with the config file and `STAMPEDE_*` variables.
pub fn try_parse_args<P: Args>(argv: impl IntoIterator<Item = String>) -> Result<Cli<P>, Usage> {
    let command = Cli::<P>::command();
    let argv = expand_config_file(argv.into_iter().collect(), &command).map_err(|e| Usage {
        code: EXIT_USAGE,
        message: format!("error: {e}\n"),
    })?;
    let to_usage = |e: clap::Error| Usage {
        code: e.exit_code(),
        message: e.render().to_string(),
    };
    let mut matches = command.try_get_matches_from(argv).map_err(to_usage)?;
    let plan_args = plan_args::<P>(&matches);
    let mut cli = Cli::<P>::from_arg_matches_mut(&mut matches).map_err(to_usage)?;
    cli.options.plan_args = plan_args;
    Ok(cli)
}

/// The plan options that were set (on the command line, in the config file or the
/// environment), as `--name=value` arguments.
fn plan_args<P: Args>(m: &clap::ArgMatches) -> Vec<String> {
    let mut out = Vec::new();
    for arg in P::augment_args(clap::Command::new("plan")).get_arguments() {
        let id = arg.get_id().as_str();
        let set = matches!(
            m.value_source(id),
            Some(clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable)
        );
        let (Some(long), true) = (arg.get_long(), set) else {
            continue;
        };
        if arg.get_action().takes_values() {
            for v in m.get_raw(id).into_iter().flatten() {
                out.push(format!("--{long}={}", v.to_string_lossy()));
            }
        } else if matches!(arg.get_action(), clap::ArgAction::SetTrue) && m.get_flag(id) {
            out.push(format!("--{long}"));
        }
    }
    out
}

/// [`try_parse_args`], printing help or the error; `Err` holds the exit code.
pub(crate) fn parse_args<P: Args>(argv: impl IntoIterator<Item = String>) -> Result<Cli<P>, i32> {
    try_parse_args(argv).map_err(|u| {
        if u.code == 0 {
            print!("{}", u.message);
        } else {
            eprint!("{}", u.message);
        }
        u.code
    })
}

/// Runs a parsed command line; `shutdown` ends the run early as Ctrl-C does. A worker runs
/// this `plan` as it is; see [`run_built_with_shutdown`] to follow the master's plan options.
pub async fn run_with_shutdown<P: Args>(
    cli: &Cli<P>,
    plan: &Plan,
    shutdown: CancellationToken,
) -> Result<Outcome, i32> {
    run_boxed(cli.options.clone(), plan.clone(), None, shutdown).await
}

/// Like [`run_with_shutdown`], building the plan from its options with `build`; a worker
/// rebuilds it from the plan options its master forwards.
pub async fn run_built_with_shutdown<P: Args + 'static>(
    cli: &Cli<P>,
    build: impl Fn(&P) -> Plan + Send + Sync + 'static,
    shutdown: CancellationToken,
) -> Result<Outcome, i32> {
    let plan = build(&cli.plan);
    let rebuild: Rebuild = Box::new(move |args: &[String]| {
        let argv = std::iter::once("plan".to_owned()).chain(args.iter().cloned());
        let forwarded = try_parse_args::<P>(argv).map_err(|u| u.message.trim().to_owned())?;
        Ok(build(&forwarded.plan))
    });
    run_boxed(cli.options.clone(), plan, Some(rebuild), shutdown).await
}

/// The run itself, behind one box: the functions above are generic over the plan's options,
/// so each plan compiles its own copy of them, and a copy that held the whole run's state
/// machine made every rebuild of a plan with options take 12 s instead of 2 (bench/rebuild).
fn run_boxed(
    options: crate::config::Options,
    plan: Plan,
    rebuild: Option<Rebuild>,
    shutdown: CancellationToken,
) -> futures_util::future::BoxFuture<'static, Result<Outcome, i32>> {
    Box::pin(async move { run_inner(&options, &plan, rebuild.as_ref(), shutdown).await })
}

async fn run_inner(
    o: &crate::config::Options,
    plan: &Plan,
    rebuild: Option<&Rebuild>,
    shutdown: CancellationToken,
) -> Result<Outcome, i32> {
    crate::capacity::raise_nofile();
    let selection = match plan.select(&o.user_types, &o.tags, &o.exclude_tags) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(EXIT_USAGE);
        }
    };
    if o.list {
        for t in plan.user_types() {
            println!("{}", t.name);
        }
        return Err(0);
    }
    if o.show_task_ratio {
        print!("{}", crate::inspect::task_ratio(plan, &selection));
        return Err(0);
    }
    if o.print_locustfile {
        print!("{}", plan.locustfile());
        return Err(0);
    }

    if let Some(e) = password_for_anyone(o) {
        eprintln!("error: {e}");
        return Err(EXIT_USAGE);
    }
    let (telemetry, exporters) =
        match crate::telemetry::start(crate::telemetry::TelemetrySettings::from_options(o)).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return Err(EXIT_USAGE);
            }
        };
    let mut exporters = exporters;
    match crate::web::metrics::listen_if_asked(o, &telemetry, &shutdown).await {
        Ok(bound) => exporters.prometheus = bound,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(EXIT_USAGE);
        }
    }
    let t = &telemetry;
    let result = if o.worker {
        let settings = crate::distributed::WorkerSettings::from_options(o);
        crate::distributed::run_worker(&settings, plan, rebuild, shutdown, t).await
    } else if o.headless || o.single_user {
        // `--single-user` runs one user in the foreground with or without `--headless`, as
        // Locust's does: there is nothing to start from a page.
        let Some(host) = o.host.clone() else {
            let master = if o.master {
                " (a master does not start a plan's default target)"
            } else {
                ""
            };
            eprintln!(
                "error: no host to test; pass --host http://HOST:PORT (or set STAMPEDE_HOST){master}"
            );
            return Err(EXIT_USAGE);
        };
        run_headless(o, plan, host, shutdown, t).await
    } else {
        crate::web::serve(o, plan, shutdown, t).await
    };
    exporters.finish().await;
    match result {
        Ok(outcome) => Ok(outcome),
        Err(RunError::Selection(e)) => {
            eprintln!("error: {e}");
            Err(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(1)
        }
    }
}

pub(crate) async fn cancel_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    token.cancel();
    // A second Ctrl-C while reports are written ends the process at once.
    let _ = tokio::signal::ctrl_c().await;
    std::process::exit(130);
}

/// A master sends `--host` to every worker it admits, password and all (they need it to
/// log in). With neither `--worker-token` nor `--allow-workers` it admits anyone who can
/// reach its port, so a password in `--host` would go to anyone: refused, with the way out.
fn password_for_anyone(o: &crate::config::Options) -> Option<String> {
    let host = o.host.as_ref()?;
    let secret = host.password().is_some() || !host.username().is_empty();
    (o.master && secret && o.worker_token.is_none() && o.allow_workers.is_empty()).then(|| {
        format!(
            "--host {} carries credentials, which a master sends to every worker it admits, and without --worker-token SECRET or --allow-workers CIDR it admits anyone who reaches port {}: pass one of them",
            crate::config::redacted_host(host),
            o.master_bind_port
        )
    })
}

/// Whether log lines on stderr may carry ANSI colour: only on a terminal, and not under
/// `NO_COLOR` (https://no-color.org: any non-empty value).
fn stderr_wants_colour() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    std::io::stderr().is_terminal() && !no_color
}

pub(crate) fn init_logging(level: &str, file: Option<&std::path::Path>) {
    let level = match level.to_ascii_uppercase().as_str() {
        "ERROR" | "CRITICAL" => tracing::Level::ERROR,
        "WARNING" | "WARN" => tracing::Level::WARN,
        "DEBUG" => tracing::Level::DEBUG,
        "TRACE" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    let _ = match file.and_then(|f| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(f)
            .ok()
    }) {
        Some(f) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
            .try_init(),
        // Colour only for a terminal: escapes in a file or a pipe are noise to whoever
        // reads the log (NO_COLOR turns it off on a terminal too).
        None => builder
            .with_ansi(stderr_wants_colour())
            .with_writer(std::io::stderr)
            .try_init(),
    };
}
