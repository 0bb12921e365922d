//! The command line, as clap sees it: Locust's flags with Stampede's additions.
//! Every value is parsed into its type here, so a bad one is reported before anything runs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};
use url::Url;

use crate::client::Resolve;
use crate::shape::Stage;
use crate::threshold::Threshold;
use crate::values::{
    parse_duration, parse_host, parse_scale, parse_size, parse_timeout, parse_web_auth, WebAuth,
};

/// A plan's own options: a plan without any uses this.
#[derive(Args, Clone, Debug, Default)]
pub struct NoOptions {}

/// The whole command line of a plan binary: Stampede's options plus the plan's own.
#[derive(Parser, Clone, Debug)]
#[command(
    args_override_self = true,
    about = "A Stampede load-test plan. Flags follow Locust's."
)]
pub struct Cli<P: Args> {
    /// Stampede's own options, the same for every plan.
    #[command(flatten)]
    pub options: Options,
    /// The plan's own options (see [`App::with_options`](crate::App::with_options)).
    #[command(flatten, next_help_heading = "Plan options")]
    pub plan: P,
}

/// Stampede's options, in every mode (headless, web UI, master, worker): Locust's flags and
/// Stampede's own.
#[derive(Args, Clone, Debug)]
pub struct Options {
    /// Host to load test, with its scheme: http://127.0.0.1:8000
    #[arg(short = 'H', long, env = "STAMPEDE_HOST", value_parser = parse_host, help_heading = "Load")]
    pub host: Option<Url>,
    /// Peak number of concurrent users.
    #[arg(short = 'u', long, env = "STAMPEDE_USERS", help_heading = "Load")]
    pub users: Option<u64>,
    /// Users started (or stopped) per second.
    #[arg(short = 'r', long, env = "STAMPEDE_SPAWN_RATE", help_heading = "Load")]
    pub spawn_rate: Option<f64>,
    /// A load stage, repeatable: USERS:SPAWN_RATE:DURATION (10:2:30s). Stages run in order and
    /// the test ends after the last.
    #[arg(long = "stage", value_name = "USERS:RATE:DURATION", env = "STAMPEDE_STAGE", conflicts_with_all = ["users", "spawn_rate"], help_heading = "Load")]
    pub stages: Vec<Stage>,
    /// Stop after this long: 30s, 5m, 1h30m.
    #[arg(short = 't', long, env = "STAMPEDE_RUN_TIME", value_parser = parse_duration, help_heading = "Load")]
    pub run_time: Option<Duration>,
    /// Only these user types (default: all).
    #[arg(value_name = "USER_TYPE", help_heading = "Load")]
    pub user_types: Vec<String>,
    /// Only tasks with one of these tags.
    #[arg(short = 'T', long, env = "STAMPEDE_TAGS", num_args = 1.., value_delimiter = ',', help_heading = "Load")]
    pub tags: Vec<String>,
    /// Leave out tasks with one of these tags.
    #[arg(short = 'E', long, env = "STAMPEDE_EXCLUDE_TAGS", num_args = 1.., value_delimiter = ',', help_heading = "Load")]
    pub exclude_tags: Vec<String>,
    /// The most users this process runs (default: what its open-file limit and memory hold).
    #[arg(
        long,
        value_name = "N",
        env = "STAMPEDE_USER_LIMIT",
        help_heading = "Load"
    )]
    pub user_limit: Option<u64>,
    /// Multiply every wait_time and think() by F: 0 runs the plan flat out, 0.1 ten times
    /// faster than people would (alias: --think-scale).
    #[arg(long, value_name = "F", alias = "think-scale", env = "STAMPEDE_WAIT_SCALE", value_parser = parse_scale, allow_negative_numbers = true, default_value_t = 1.0, help_heading = "Load")]
    pub wait_scale: f64,
    /// Time tasks may take to finish when stopping, before they are aborted.
    #[arg(short = 's', long, env = "STAMPEDE_STOP_TIMEOUT", value_parser = parse_duration, default_value = "0s", help_heading = "Load")]
    pub stop_timeout: Duration,
    /// Accept any TLS certificate (self-signed staging servers).
    #[arg(long, env = "STAMPEDE_INSECURE", help_heading = "Network")]
    pub insecure: bool,
    /// Also trust the CA certificates in this PEM file (a staging server's private CA).
    #[arg(
        long,
        value_name = "PATH",
        env = "STAMPEDE_CA_CERT",
        help_heading = "Network"
    )]
    pub ca_cert: Option<PathBuf>,
    /// Limit on opening a connection: DNS, TCP connect and TLS handshake together.
    #[arg(long, value_name = "DUR", env = "STAMPEDE_CONNECT_TIMEOUT", value_parser = parse_timeout, default_value = "10s", help_heading = "Network")]
    pub connect_timeout: Duration,
    /// Limit on a whole request, redirects included; a plan can set its own per request.
    #[arg(long, value_name = "DUR", env = "STAMPEDE_REQUEST_TIMEOUT", value_parser = parse_timeout, default_value = "60s", help_heading = "Network")]
    pub request_timeout: Duration,
    /// Pin a host name to an address, as curl does, repeatable: shop.example:443:10.0.0.5
    #[arg(
        long,
        value_name = "HOST:PORT:ADDR",
        env = "STAMPEDE_RESOLVE",
        help_heading = "Network"
    )]
    pub resolve: Vec<Resolve>,
    /// Response body bytes a plan can read; the rest is counted, not kept.
    #[arg(long, value_name = "SIZE", env = "STAMPEDE_MAX_BODY", value_parser = parse_size, default_value = "16MiB", help_heading = "Network")]
    pub max_body: usize,
    /// Cookies one user's jar keeps, all domains together (180, as browsers keep per site,
    /// by default); the rest are refused, said once. The jar's bytes count in the memory
    /// --user-limit guards, whatever this says.
    #[arg(long, value_name = "N", env = "STAMPEDE_MAX_COOKIES", default_value_t = crate::client::DEFAULT_MAX_COOKIES, value_parser = clap::value_parser!(u16).range(1..), help_heading = "Network")]
    pub max_cookies: u16,
    /// Distinct request names kept; the rest share one "(other names)" row per method.
    #[arg(long, value_name = "N", env = "STAMPEDE_MAX_NAMES", default_value_t = 2000, value_parser = clap::value_parser!(usize), help_heading = "Reports")]
    pub max_names: usize,
    /// Distinct failure texts kept per request name; the rest share one "other failures" row.
    #[arg(
        long,
        value_name = "N",
        env = "STAMPEDE_MAX_FAILURE_KEYS",
        default_value_t = 100,
        help_heading = "Reports"
    )]
    pub max_failure_keys: u32,

    /// Run without the web UI, starting at once.
    #[arg(long, env = "STAMPEDE_HEADLESS", help_heading = "Mode")]
    pub headless: bool,
    /// Start the test at once while still serving the web UI.
    #[arg(long, env = "STAMPEDE_AUTOSTART", help_heading = "Mode")]
    pub autostart: bool,
    /// List the user types and exit.
    #[arg(short = 'l', long, help_heading = "Mode")]
    pub list: bool,
    /// Print the declared user and task ratios and exit.
    #[arg(long, help_heading = "Mode")]
    pub show_task_ratio: bool,
    /// Print a locustfile declaring the plan's user types, for a Locust master, and exit.
    #[arg(long, help_heading = "Mode")]
    pub print_locustfile: bool,
    /// Run a single user (of the first selected type), logging every request and response,
    /// until -t or Ctrl-C.
    #[arg(long, help_heading = "Mode")]
    pub single_user: bool,
    /// Read options from a file of `key = value` lines (default: ./stampede.conf if present).
    #[arg(long, value_name = "FILE", help_heading = "Mode")]
    pub config: Option<PathBuf>,

    /// Write PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv, PREFIX_exceptions.csv.
    #[arg(
        long,
        value_name = "PREFIX",
        env = "STAMPEDE_CSV",
        help_heading = "Reports"
    )]
    pub csv: Option<PathBuf>,
    /// Add a row per endpoint to the history CSV each second.
    #[arg(long, env = "STAMPEDE_CSV_FULL_HISTORY", help_heading = "Reports")]
    pub csv_full_history: bool,
    /// For users with constant_pacing/constant_throughput: also report percentiles
    /// corrected for coordinated omission (HdrHistogram's record_correct, as wrk2), next
    /// to the raw ones.
    #[arg(long, env = "STAMPEDE_CORRECT_OMISSION", help_heading = "Reports")]
    pub correct_omission: bool,
    /// Print Locust's JSON stats to stdout at the end.
    #[arg(long, env = "STAMPEDE_JSON", help_heading = "Reports")]
    pub json: bool,
    /// Write Locust's JSON stats to PATH.json at the end.
    #[arg(
        long,
        value_name = "PATH",
        env = "STAMPEDE_JSON_FILE",
        help_heading = "Reports"
    )]
    pub json_file: Option<PathBuf>,
    /// Write Stampede's full report (schema: schema/report.schema.json).
    #[arg(
        long,
        value_name = "PATH",
        env = "STAMPEDE_REPORT_JSON",
        help_heading = "Reports"
    )]
    pub report_json: Option<PathBuf>,
    /// Write a self-contained HTML report.
    #[arg(
        long,
        value_name = "PATH",
        env = "STAMPEDE_HTML",
        help_heading = "Reports"
    )]
    pub html: Option<PathBuf>,
    /// Print only the final summary, not the live table.
    #[arg(long, env = "STAMPEDE_ONLY_SUMMARY", help_heading = "Reports")]
    pub only_summary: bool,
    /// Reset the statistics once every user is spawned.
    #[arg(long, env = "STAMPEDE_RESET_STATS", help_heading = "Reports")]
    pub reset_stats: bool,
    /// A pass/fail rule, repeatable: p95<500ms, fail_ratio<1%, rps>=200, "1 home:p99<2s",
    /// generator_lag<5ms (the generator kept its schedule).
    #[arg(
        long = "threshold",
        value_name = "EXPR",
        env = "STAMPEDE_THRESHOLD",
        help_heading = "Reports"
    )]
    pub thresholds: Vec<Threshold>,
    /// Exit code when requests failed or tasks raised.
    #[arg(
        long,
        default_value_t = 1,
        env = "STAMPEDE_EXIT_CODE_ON_ERROR",
        help_heading = "Reports"
    )]
    pub exit_code_on_error: i32,
    /// Log level: ERROR, WARNING, INFO, DEBUG.
    #[arg(
        long,
        default_value = "INFO",
        env = "STAMPEDE_LOGLEVEL",
        help_heading = "Reports"
    )]
    pub loglevel: String,
    /// Write the log to this file instead of stderr.
    #[arg(long, env = "STAMPEDE_LOGFILE", help_heading = "Reports")]
    pub logfile: Option<PathBuf>,

    /// Address the web UI listens on (loopback by default; 0.0.0.0 exposes it).
    #[arg(
        long,
        default_value = "127.0.0.1",
        env = "STAMPEDE_WEB_HOST",
        help_heading = "Web UI"
    )]
    pub web_host: String,
    /// Port of the web UI.
    #[arg(
        short = 'P',
        long,
        default_value_t = 8089,
        env = "STAMPEDE_WEB_PORT",
        help_heading = "Web UI"
    )]
    pub web_port: u16,
    /// Extra Host names the UI answers to (a reverse proxy's or a DNS name's), besides the
    /// address it listens on.
    #[arg(
        long,
        value_name = "HOST,...",
        env = "STAMPEDE_WEB_ALLOWED_HOSTS",
        value_delimiter = ',',
        help_heading = "Web UI"
    )]
    pub web_allowed_hosts: Vec<String>,
    /// HTTP Basic credentials for the UI and API: USER:PASSWORD.
    #[arg(long, value_parser = parse_web_auth, env = "STAMPEDE_WEB_AUTH", help_heading = "Web UI")]
    pub web_auth: Option<WebAuth>,

    /// Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT; port 0 picks one), for
    /// headless runs, masters and workers. The web UI serves /metrics on its own port too.
    #[arg(
        long,
        value_name = "ADDR",
        env = "STAMPEDE_PROMETHEUS_LISTEN",
        help_heading = "Telemetry"
    )]
    pub prometheus_listen: Option<String>,
    /// Export metrics, and a span per request, over OTLP/HTTP (protobuf), configured by the
    /// standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
    /// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_TRACES_EXPORTER=none, ...).
    #[arg(long, env = "STAMPEDE_OTEL", help_heading = "Telemetry")]
    pub otel: bool,
    /// Send a W3C `traceparent` on every request: one trace per user, a fresh span id per
    /// request (the span --otel exports), so the target's traces join the load.
    #[arg(long, env = "STAMPEDE_TRACE_CONTEXT", help_heading = "Telemetry")]
    pub trace_context: bool,

    /// The plan's own options as given (`--think-scale=0`), which a master forwards to its
    /// workers so they build the same plan.
    #[arg(skip)]
    pub plan_args: Vec<String>,

    /// Run as the master of distributed workers.
    #[arg(
        long,
        env = "STAMPEDE_MASTER",
        conflicts_with = "worker",
        help_heading = "Distributed"
    )]
    pub master: bool,
    /// Interface a master binds for its workers (`*`: all).
    #[arg(
        long,
        default_value = "*",
        env = "STAMPEDE_MASTER_BIND_HOST",
        help_heading = "Distributed"
    )]
    pub master_bind_host: String,
    /// Port a master binds for its workers.
    #[arg(
        long,
        default_value_t = 5557,
        env = "STAMPEDE_MASTER_BIND_PORT",
        help_heading = "Distributed"
    )]
    pub master_bind_port: u16,
    /// Workers to wait for before a headless master starts.
    #[arg(
        long,
        default_value_t = 1,
        env = "STAMPEDE_EXPECT_WORKERS",
        help_heading = "Distributed"
    )]
    pub expect_workers: u32,
    /// Run as a worker of a master (Stampede's or Locust's).
    #[arg(long, env = "STAMPEDE_WORKER", help_heading = "Distributed")]
    pub worker: bool,
    /// Host of the master a worker connects to.
    #[arg(
        long,
        default_value = "127.0.0.1",
        env = "STAMPEDE_MASTER_HOST",
        help_heading = "Distributed"
    )]
    pub master_host: String,
    /// Port of the master a worker connects to.
    #[arg(
        long,
        default_value_t = 5557,
        env = "STAMPEDE_MASTER_PORT",
        help_heading = "Distributed"
    )]
    pub master_port: u16,
    /// A secret Stampede workers must present to join this master (give the same to the
    /// workers; best set as STAMPEDE_WORKER_TOKEN, out of `ps`). Locust workers cannot, and
    /// a Locust master cannot read it: give it only to workers of a Stampede master.
    #[arg(
        long,
        value_name = "SECRET",
        env = "STAMPEDE_WORKER_TOKEN",
        hide_env_values = true,
        help_heading = "Distributed"
    )]
    pub worker_token: Option<String>,
    /// Admit workers only from these address blocks (10.0.0.0/8,192.168.1.7): others are
    /// disconnected before the first byte. Works for Locust workers too.
    #[arg(
        long,
        value_name = "CIDR,...",
        value_delimiter = ',',
        env = "STAMPEDE_ALLOW_WORKERS",
        help_heading = "Distributed"
    )]
    pub allow_workers: Vec<crate::distributed::Cidr>,
}
