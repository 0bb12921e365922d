//! A plan let loose on a host: the runner and the statistics, ready to be driven by the
//! headless loop, the web UI, a distributed master, or a test.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::client::{ClientConfig, Resolve};
use crate::distributed::WorkerInfo;
use crate::plan::{Plan, Selection, SelectionError};
use crate::runner::{spawn_runner, Dispatch, RunnerHandle, RunnerSetup};
use crate::stats::{spawn_aggregator, Limits, StatsHandle, UserCounts};

/// How to run a plan, beyond its own declarations.
#[derive(Clone, Debug)]
pub struct SwarmConfig {
    /// The target every user's client is aimed at (`--host`).
    pub host: Url,
    /// Time running tasks get to finish at stop before they are aborted.
    pub stop_timeout: Duration,
    /// Accept any TLS certificate.
    pub insecure: bool,
    /// Log every request and response.
    pub verbose: bool,
    /// Keep a history row per endpoint each second.
    pub full_history: bool,
    /// Corrected percentiles for paced users (`--correct-omission`).
    pub correct_omission: bool,
    /// Multiplies every `wait_time` and `think()` (`--wait-scale`).
    pub wait_scale: f64,
    /// Only these user types (empty: all).
    pub user_types: Vec<String>,
    /// Only tasks with one of these tags (`--tags`; empty: all).
    pub tags: Vec<String>,
    /// No task with one of these tags (`--exclude-tags`).
    pub exclude_tags: Vec<String>,
    /// The name of this process in the exceptions table.
    pub node: String,
    /// How the users' clients reach the target.
    pub net: NetConfig,
    /// Caps on request names and failure texts (`--max-names`, `--max-failure-keys`).
    pub limits: Limits,
    /// Trace context and spans on the users' requests (`--trace-context`, `--otel`).
    pub tracing: Option<Arc<crate::telemetry::Tracing>>,
}

/// How users' clients reach the target: timeouts, TLS trust, pinned names, body cap.
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_body: usize,
    /// `--max-cookies`: cookies one user's jar keeps.
    pub max_cookies: u16,
    pub ca_cert: Option<std::path::PathBuf>,
    pub resolve: Vec<Resolve>,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body: crate::client::DEFAULT_MAX_BODY,
            max_cookies: crate::client::DEFAULT_MAX_COOKIES,
            ca_cert: None,
            resolve: Vec::new(),
        }
    }
}

impl NetConfig {
    /// The clients' shared settings; fails only on an unusable `--ca-cert` file.
    pub fn client_config(&self, insecure: bool) -> Result<ClientConfig, String> {
        let mut c = ClientConfig::with_tls(insecure, self.ca_cert.as_deref())?;
        c.connect_timeout = self.connect_timeout;
        c.request_timeout = self.request_timeout;
        c.max_body = self.max_body;
        c.max_cookies = self.max_cookies;
        c.resolve = self.resolve.clone().into();
        Ok(c)
    }
}

impl SwarmConfig {
    /// Defaults for a swarm aimed at `host`: no stop timeout, every user type and task,
    /// this machine's hostname as the node.
    pub fn new(host: Url) -> Self {
        Self {
            host,
            stop_timeout: Duration::ZERO,
            insecure: false,
            verbose: false,
            full_history: false,
            correct_omission: false,
            wait_scale: 1.0,
            user_types: Vec::new(),
            tags: Vec::new(),
            exclude_tags: Vec::new(),
            node: hostname(),
            net: NetConfig::default(),
            limits: Limits::default(),
            tracing: None,
        }
    }
}

/// Where a master listens and what it tells its workers.
#[derive(Clone, Debug)]
pub struct MasterConfig {
    /// `tcp://HOST:PORT`.
    pub bind: String,
    /// Start a test only once this many workers are connected (`--expect-workers`).
    pub expect_workers: u32,
    /// Sent to workers in every `spawn`; never credentials.
    pub parsed_options: rmpv::Value,
    /// Who may join (`--worker-token`, `--allow-workers`); open by default, as Locust's.
    pub admission: crate::distributed::Admission,
    /// How long a missing worker is remembered before it is forgotten (60 s).
    pub forget_after: Duration,
}

impl Default for MasterConfig {
    fn default() -> Self {
        Self {
            bind: "tcp://0.0.0.0:5557".into(),
            expect_workers: 1,
            parsed_options: rmpv::Value::Nil,
            admission: Default::default(),
            forget_after: Duration::from_secs(60),
        }
    }
}

/// A started (but still idle) swarm: call `runner.start(users, rate, None)` to ramp up.
pub struct Swarm {
    /// Starts, resizes and stops the users.
    pub runner: RunnerHandle,
    /// Reads and resets what the users recorded.
    pub stats: StatsHandle,
    /// The workers, when this swarm is a distributed master.
    pub workers: Option<tokio::sync::watch::Receiver<Vec<WorkerInfo>>>,
    dispatch: Dispatch,
    types: usize,
}

impl Swarm {
    /// Users of each plan type (in plan order) when `users` are running.
    pub fn users_by_type(&self, users: u64) -> Vec<u64> {
        let n = self.dispatch.capacity().map_or(users, |c| c.min(users));
        self.dispatch.counts_for(n, self.types)
    }
}

impl Plan {
    /// Starts the runner and statistics actors for this plan on the current tokio runtime.
    pub fn swarm(&self, cfg: SwarmConfig) -> Result<Swarm, SelectionError> {
        let client_config = self.client_config(&cfg)?;
        let selection: Selection = self.select(&cfg.user_types, &cfg.tags, &cfg.exclude_tags)?;
        let infos = self.user_types();
        let counts = Arc::new(UserCounts::new(
            infos.iter().map(|t| t.name.clone()).collect(),
        ));
        let stats = spawn_aggregator(counts, cfg.node.clone(), cfg.full_history, cfg.limits);
        let dispatch = Dispatch::new(&infos, &selection.active);
        self.serve_outside_users(&cfg.host, &client_config, &stats);
        let runner = spawn_runner(RunnerSetup {
            types: self.types.clone(),
            enabled: selection.enabled.clone(),
            dispatch: dispatch.clone(),
            host: cfg.host,
            client_config,
            stop_timeout: cfg.stop_timeout,
            stats: stats.clone(),
            open_types: infos
                .iter()
                .enumerate()
                .filter(|(i, t)| t.arrivals.is_some() && selection.active[*i])
                .map(|(i, _)| i)
                .collect(),
        });
        Ok(Swarm {
            runner,
            stats,
            dispatch,
            types: infos.len(),
            workers: None,
        })
    }

    /// A master: the same swarm, but its users run on distributed workers.
    pub async fn master_swarm(
        &self,
        cfg: SwarmConfig,
        master: MasterConfig,
    ) -> Result<Swarm, String> {
        let selection = self
            .select(&cfg.user_types, &cfg.tags, &cfg.exclude_tags)
            .map_err(|e| e.to_string())?;
        let infos = self.user_types();
        let counts = Arc::new(UserCounts::new(
            infos.iter().map(|t| t.name.clone()).collect(),
        ));
        let stats = spawn_aggregator(counts, cfg.node.clone(), cfg.full_history, cfg.limits);
        stats.set_settle(crate::stats::window::MASTER_SETTLE_SECS);
        let dispatch = Dispatch::new(&infos, &selection.active);
        let client_config = self.client_config(&cfg).map_err(|e| e.to_string())?;
        self.serve_outside_users(&cfg.host, &client_config, &stats);
        let (runner, workers) = crate::distributed::spawn_master(crate::distributed::MasterSetup {
            bind: master.bind,
            expect_workers: master.expect_workers,
            types: infos.clone(),
            dispatch: dispatch.clone(),
            host: cfg.host,
            stop_timeout: cfg.stop_timeout,
            stats: stats.clone(),
            parsed_options: crate::distributed::ParsedOptions::from_value(&master.parsed_options),
            admission: master.admission,
            forget_after: master.forget_after,
            limits: cfg.limits,
            relay: self.relay.clone(),
        })
        .await?;
        Ok(Swarm {
            runner,
            stats,
            dispatch,
            types: infos.len(),
            workers: Some(workers),
        })
    }
}

impl Plan {
    /// The users' client settings, from the run's.
    fn client_config(&self, cfg: &SwarmConfig) -> Result<ClientConfig, SelectionError> {
        let mut c = cfg
            .net
            .client_config(cfg.insecure)
            .map_err(SelectionError::Config)?;
        c.verbose = cfg.verbose;
        c.correct_omission = cfg.correct_omission;
        c.wait_scale = cfg.wait_scale;
        c.listeners = self.on_request.clone();
        c.user_error = self.on_user_error.clone();
        c.tracing = cfg.tracing.clone();
        Ok(c)
    }

    /// Hands the [`on_outside_users`](Plan::on_outside_users) observers a context for
    /// requests made outside any user, counted in this swarm's stats.
    fn serve_outside_users(&self, host: &Url, client: &ClientConfig, stats: &StatsHandle) {
        for f in &self.on_outside_users {
            f(crate::user::UserContext::outside_users(
                host.clone(),
                client.clone(),
                stats.recorder(),
            ));
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "local".to_owned())
}
