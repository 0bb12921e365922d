//! What the parsed command line becomes for each layer below it: a test's schedule, the
//! swarm's settings, a master's. The options are read here, once, at the top; the layers
//! take the typed settings and never see `Options`.

use std::sync::Arc;

use url::Url;

use super::Options;
use crate::distributed::WorkerSettings;
use crate::lifecycle::Schedule;
use crate::outcome::ReportSettings;

impl WorkerSettings {
    /// `--master-host`, `--master-port`, `--worker-token`, `--host`, the plan's options,
    /// and the swarm and report settings every mode reads.
    pub fn from_options(o: &Options) -> Self {
        let placeholder: Url = "http://unknown/".parse().expect("a valid URL");
        Self {
            endpoint: format!("tcp://{}:{}", o.master_host, o.master_port),
            token: o.worker_token.clone(),
            host: o.host.clone(),
            plan_args: o.plan_args.clone(),
            swarm: SwarmConfig::from_options(o.host.clone().unwrap_or(placeholder), o),
            report: ReportSettings::from_options(o),
        }
    }
}
use crate::plan::Plan;
use crate::shape::{LoadShape, Stages};
use crate::stats::Limits;
use crate::swarm::{MasterConfig, NetConfig, SwarmConfig};
use crate::telemetry::TelemetrySettings;

impl ReportSettings {
    /// The report options: `--csv`, `--json`, `--json-file`, `--report-json`, `--html`,
    /// `--threshold`, `--exit-code-on-error`.
    pub fn from_options(o: &Options) -> Self {
        Self {
            csv: o.csv.clone(),
            json: o.json,
            json_file: o.json_file.clone(),
            report_json: o.report_json.clone(),
            html: o.html.clone(),
            thresholds: o.thresholds.clone(),
            exit_code_on_error: o.exit_code_on_error,
        }
    }
}

impl TelemetrySettings {
    /// `--trace-context`, `--otel`, `--max-names`.
    pub fn from_options(o: &Options) -> Self {
        Self {
            trace_context: o.trace_context,
            otel: o.otel,
            max_names: o.max_names,
        }
    }
}

impl Schedule {
    /// From the command line and the plan: `--stage` wins over the plan's shape, and
    /// `--single-user` runs exactly one user.
    pub fn from_options(o: &Options, plan: &Plan) -> Self {
        let shape: Option<Arc<dyn LoadShape>> = if o.single_user {
            None
        } else if !o.stages.is_empty() {
            Some(Arc::new(Stages(o.stages.clone())))
        } else {
            plan.shape.clone()
        };
        let (users, rate) = if o.single_user {
            (1, 1.0)
        } else {
            (o.users.unwrap_or(1), o.spawn_rate.unwrap_or(1.0))
        };
        Self {
            users,
            rate,
            shape,
            run_time: o.run_time,
            reset_stats: o.reset_stats,
            end_when_users_gone: !o.master,
            host: None,
            user_limit: crate::capacity::user_limit(o.user_limit),
        }
    }
}

impl SwarmConfig {
    /// Everything the command line says about running users, in one place for every mode
    /// (headless, web UI, master, worker); each then overrides what it decides itself.
    pub fn from_options(host: Url, o: &Options) -> Self {
        let mut cfg = Self::new(host);
        cfg.stop_timeout = o.stop_timeout;
        cfg.insecure = o.insecure;
        cfg.verbose = o.single_user;
        cfg.full_history = o.csv_full_history;
        cfg.correct_omission = o.correct_omission;
        cfg.wait_scale = o.wait_scale;
        cfg.user_types = o.user_types.clone();
        cfg.tags = o.tags.clone();
        cfg.exclude_tags = o.exclude_tags.clone();
        cfg.net = NetConfig {
            connect_timeout: o.connect_timeout,
            request_timeout: o.request_timeout,
            max_body: o.max_body,
            max_cookies: o.max_cookies,
            ca_cert: o.ca_cert.clone(),
            resolve: o.resolve.clone(),
        };
        cfg.limits = Limits {
            max_names: o.max_names,
            max_failure_keys: o.max_failure_keys,
        };
        cfg
    }
}

impl MasterConfig {
    /// From the command line: `--master-bind-host`, `--master-bind-port`, `--expect-workers`,
    /// and the options workers may use (host, users, rate, run time, tags; not `--web-auth`).
    pub fn from_options(o: &Options) -> Self {
        use rmpv::Value;
        let list = |v: &[String]| Value::Array(v.iter().map(|s| Value::from(s.as_str())).collect());
        let parsed_options = Value::Map(vec![
            (
                "host".into(),
                o.host
                    .as_ref()
                    .map_or(Value::Nil, |h| Value::from(h.as_str())),
            ),
            ("num_users".into(), o.users.map_or(Value::Nil, Value::from)),
            (
                "spawn_rate".into(),
                o.spawn_rate.map_or(Value::Nil, Value::F64),
            ),
            (
                "run_time".into(),
                o.run_time.map_or(Value::Nil, |t| Value::from(t.as_secs())),
            ),
            (
                "stop_timeout".into(),
                Value::F64(o.stop_timeout.as_secs_f64()),
            ),
            ("tags".into(), list(&o.tags)),
            ("exclude_tags".into(), list(&o.exclude_tags)),
            ("expect_workers".into(), Value::from(o.expect_workers)),
            // Stampede workers scale their waits as the master's command line says.
            ("wait_scale".into(), Value::F64(o.wait_scale)),
            // The plan's own options, for Stampede workers to build the same plan.
            ("stampede_plan_args".into(), list(&o.plan_args)),
        ]);
        Self {
            bind: format!(
                "tcp://{}:{}",
                o.master_bind_host.replace('*', "0.0.0.0"),
                o.master_bind_port
            ),
            expect_workers: o.expect_workers,
            parsed_options,
            admission: crate::distributed::Admission {
                token: o.worker_token.clone(),
                allow: o.allow_workers.clone(),
            },
            ..Self::default()
        }
    }
}
