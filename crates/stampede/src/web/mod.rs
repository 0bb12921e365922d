//! The web UI on port 8089, served by the plan binary itself: a start form, live tables and
//! charts, the funnel, downloads, and Locust's web API. Every asset is compiled in, so it
//! works offline.

mod api;
mod control;
mod guard;
pub mod metrics;
pub mod serve;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use control::{Control, StartRequest};
pub(crate) use guard::guard as guard_layer;
pub use guard::Guard;

use crate::config::Options;
use crate::outcome::{finish_run, Outcome, RunError};
use crate::plan::Plan;
use crate::report::json;
use crate::stats::{unix_now, StatsState};

/// The UI's routes over a [`Control`].
pub fn router(control: Arc<Control>, guard: Guard) -> Router {
    let metrics = Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(control.telemetry.clone());
    let ui = Arc::new(api::Ui::new(control));
    Router::new()
        .route("/", get(api::index))
        .route("/assets/app.js", get(api::app_js))
        .route("/assets/app.css", get(api::app_css))
        .route("/ui/config", get(api::config))
        .route("/swarm", post(api::swarm))
        .route("/stop", post(api::stop))
        .route("/stats/reset", post(api::reset).get(api::reset))
        .route("/stats/requests", get(api::requests))
        .route("/stats/history", get(api::history))
        .route("/stats/funnel", get(api::funnel))
        .route("/stats/requests/csv", get(api::requests_csv))
        .route("/stats/requests_full_history/csv", get(api::history_csv))
        .route("/stats/failures/csv", get(api::failures_csv))
        .route("/exceptions", get(api::exceptions))
        .route("/exceptions/csv", get(api::exceptions_csv))
        .route("/stats/report", get(api::html_report))
        .route("/stats/report.json", get(api::report_json))
        .route("/stats/locust.json", get(api::locust_json))
        .with_state(ui)
        .merge(metrics)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(guard),
            guard::guard,
        ))
}

/// Stampede's report for a state, with thresholds judged and the exit code they imply.
pub(crate) fn report_value(
    control: &Control,
    state: &StatsState,
    host: &str,
    peak: &[u64],
) -> Value {
    let verdicts: Vec<_> = control
        .options
        .thresholds
        .iter()
        .map(|t| t.check(state))
        .collect();
    let infos = control.plan.user_types();
    let ctx = json::ReportContext {
        host,
        user_types: &infos,
        peak_users: peak,
        funnel: control.plan.funnel_steps(),
        verdicts: &verdicts,
        end_time: unix_now(),
        exit_code: crate::outcome::exit_code(state, &verdicts, control.options.exit_code_on_error),
    };
    json::report_json(state, &ctx)
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Serves the UI until `shutdown`, then stops the test and writes the reports of the last one.
pub(crate) async fn serve(
    opts: &Options,
    plan: &Plan,
    shutdown: CancellationToken,
    telemetry: &crate::telemetry::Telemetry,
) -> Result<Outcome, RunError> {
    let target = format!("{}:{}", opts.web_host, opts.web_port);
    let addr = tokio::net::lookup_host(&target)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| RunError::Web(format!("cannot resolve --web-host '{}'", opts.web_host)))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| RunError::Web(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| RunError::Web(e.to_string()))?;
    let control = if opts.master {
        let host = opts
            .host
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1/".parse().expect("a valid URL"));
        let cfg = crate::swarm::SwarmConfig::from_options(host.clone(), opts);
        let swarm = plan
            .master_swarm(cfg, crate::swarm::MasterConfig::from_options(opts))
            .await
            .map_err(RunError::Web)?;
        Arc::new(
            Control::with_swarm(plan.clone(), opts.clone(), swarm, host)
                .with_telemetry(telemetry.clone()),
        )
    } else {
        Arc::new(Control::new(plan.clone(), opts.clone()).with_telemetry(telemetry.clone()))
    };
    eprintln!("Stampede web UI at http://{bound}/");
    plan.milestone(&crate::milestone::Milestone::WebUi {
        url: format!("http://{bound}"),
    });
    if is_loopback(&bound) {
        eprintln!("  (loopback only; to reach it from elsewhere add --web-host 0.0.0.0 --web-auth USER:PASSWORD)");
    } else if opts.web_auth.is_none() {
        eprintln!("WARNING: the web UI listens on {bound} WITHOUT authentication: anyone who can reach it can start a load test. Add --web-auth USER:PASSWORD.");
    }
    let guard = Guard::new(opts.web_auth.clone(), bound, &opts.web_allowed_hosts);
    let app = router(control.clone(), guard);
    let server_stop = shutdown.clone();
    let server = tokio::spawn(serve::serve(
        listener,
        app,
        serve::Limits::default(),
        server_stop,
    ));
    if opts.autostart {
        let req = StartRequest {
            users: opts.users.unwrap_or(1),
            spawn_rate: opts.spawn_rate.unwrap_or(1.0),
            host: None,
            run_time: opts.run_time,
            user_types: Vec::new(),
        };
        if let Err(e) = control.start(req) {
            shutdown.cancel();
            let _ = server.await;
            return Err(RunError::Web(e.to_string()));
        }
    }
    shutdown.cancelled().await;
    control.stop().await;
    // The run's end: a master's workers quit (each test before only stopped them).
    if let Some(test) = control.test() {
        let runner = test
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .swarm
            .runner
            .clone();
        runner.quit().await;
    }
    let _ = server.await;
    let Some(test) = control.test() else {
        return Ok(Outcome {
            exit_code: 0,
            stats: StatsState::new(unix_now(), false),
            verdicts: Vec::new(),
        });
    };
    let (stats, host, peak) = {
        let t = test.lock().unwrap_or_else(|p| p.into_inner());
        (
            t.swarm.stats.clone(),
            t.host.clone(),
            t.swarm.users_by_type(t.peak_users),
        )
    };
    finish_run(
        &crate::outcome::ReportSettings::from_options(opts),
        plan,
        stats.final_snapshot().await,
        &host,
        &peak,
    )
}
