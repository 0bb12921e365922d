//! The UI's routes: Locust's web API with Locust's shapes, plus what the Stampede page needs
//! (history for charts, the funnel, the full report).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::control::{Control, StartRequest};
use crate::config::parse_duration;
use crate::report::{csv, html, json as report_json};
use crate::stats::{unix_now, StatsState, Summary};

/// How long a computed `/stats/requests` answer is reused: however many browsers poll, the
/// aggregator computes the table at most this often.
const CACHE_FOR: Duration = Duration::from_millis(1000);

pub struct Ui {
    pub control: Arc<Control>,
    cache: Mutex<Option<(Instant, Arc<Value>)>>,
}

impl Ui {
    pub fn new(control: Arc<Control>) -> Self {
        Self {
            control,
            cache: Mutex::new(None),
        }
    }

    fn forget_cache(&self) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    async fn summary(&self) -> Option<Summary> {
        Some(self.control.stats()?.summary().await)
    }

    async fn snapshot(&self) -> Option<StatsState> {
        Some(self.control.stats()?.snapshot().await)
    }
}

type Shared = State<Arc<Ui>>;

pub async fn index() -> Html<&'static str> {
    Html(crate::assets::INDEX_HTML)
}

pub async fn app_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        crate::assets::APP_JS,
    )
}

pub async fn app_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        crate::assets::APP_CSS,
    )
}

/// What the page needs to draw the start form.
pub async fn config(State(ui): Shared) -> Json<Value> {
    let c = &ui.control;
    let types: Vec<Value> = c
        .plan
        .user_types()
        .iter()
        .map(|t| json!({ "name": t.name, "weight": t.weight, "fixed_count": t.fixed_count, "open": t.arrivals.is_some() }))
        .collect();
    Json(json!({
        "host": c.options.host.as_ref().map(crate::config::redacted_host),
        "users": c.options.users.unwrap_or(1),
        "spawn_rate": c.options.spawn_rate.unwrap_or(1.0),
        "run_time": c.options.run_time.map(|t| humantime::format_duration(t).to_string()),
        "user_types": types,
        "funnel": c.plan.funnel_steps(),
        // A load shape (`--stage` or the plan's) decides users and rate: Start runs it.
        "shape": c.has_shape(),
        "state": c.status().map(|s| s.state.as_str()).unwrap_or("ready"),
        // A front's own options (a locustfile's arguments), fields of the start form; a
        // secret one's value is never sent.
        "custom_options": c.plan.relay.iter().flat_map(|r| r.ui_options()).map(|mut o| {
            if o.secret { o.value.clear(); }
            o
        }).collect::<Vec<_>>(),
    }))
}

/// The form shows `--host` with its password hidden (`user:***@host`); posted back as it
/// was shown, it means `--host` itself, password and all.
fn unredacted(posted: url::Url, given: Option<&url::Url>) -> url::Url {
    match given {
        Some(g) if g.password().is_some() && crate::config::redacted_host(g) == posted.as_str() => {
            g.clone()
        }
        _ => posted,
    }
}

fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn swarm_error(message: String, host: &str) -> Json<Value> {
    Json(json!({ "success": false, "message": message, "host": host }))
}

/// `POST /swarm`: Locust's form fields `user_count`, `spawn_rate`, `host`, `run_time`,
/// `user_classes` (repeated).
pub async fn swarm(State(ui): Shared, body: Bytes) -> Json<Value> {
    let fields = form_fields(&body);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let default_host = ui
        .control
        .options
        .host
        .as_ref()
        .map(crate::config::redacted_host)
        .unwrap_or_default();
    let users = match get("user_count").map(|v| v.parse::<u64>().map_err(|_| v)) {
        Some(Ok(n)) => n,
        Some(Err(v)) => {
            return swarm_error(
                format!("Invalid user_count value: '{v}' (must be a whole number)"),
                &default_host,
            )
        }
        None => return swarm_error("Missing user_count".into(), &default_host),
    };
    let spawn_rate = match get("spawn_rate").map(|v| {
        v.parse::<f64>().map_err(|_| v.clone()).and_then(|r| {
            if r > 0.0 && r.is_finite() {
                Ok(r)
            } else {
                Err(v)
            }
        })
    }) {
        Some(Ok(r)) => r,
        Some(Err(v)) => {
            return swarm_error(
                format!("Invalid spawn_rate value: '{v}' (must be a positive number)"),
                &default_host,
            )
        }
        None => return swarm_error("Missing spawn_rate".into(), &default_host),
    };
    let host = match get("host").map(|h| crate::config::parse_host(&h)) {
        Some(Ok(h)) => Some(unredacted(h, ui.control.options.host.as_ref())),
        Some(Err(e)) => return swarm_error(format!("Invalid host: {e}"), &default_host),
        None => None,
    };
    let run_time = match get("run_time").map(|t| parse_duration(&t)) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return swarm_error(format!("Invalid run_time: {e}"), &default_host),
        None => None,
    };
    let user_types: Vec<String> = fields
        .iter()
        .filter(|(k, v)| k == "user_classes" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    // A front's own options, by the names it declared; an empty secret keeps its value.
    let declared = ui.control.plan.relay.iter().flat_map(|r| r.ui_options());
    let custom: Vec<(String, String)> = declared
        .filter_map(|o| {
            let (_, v) = fields.iter().find(|(k, _)| *k == o.name)?;
            (!(o.secret && v.is_empty())).then(|| (o.name.clone(), v.clone()))
        })
        .collect();
    let typed_host = host.is_some().then(|| get("host")).flatten();
    if let Some(relay) = &ui.control.plan.relay {
        if !custom.is_empty() || typed_host.is_some() {
            relay.deliver(crate::relay::Inbound::UiOptions {
                values: custom,
                host: typed_host,
            });
        }
    }
    match ui.control.start(StartRequest {
        users,
        spawn_rate,
        host,
        run_time,
        user_types,
    }) {
        Ok(host) => {
            ui.forget_cache();
            let limit = ui.control.user_limit();
            let message = if users > limit {
                crate::capacity::capped_message(users, limit)
            } else {
                "Swarming started".to_owned()
            };
            let mut answer = json!({ "success": true, "message": message, "host": crate::config::redacted_host(&host) });
            if let Some(t) = run_time {
                answer["run_time"] = json!(t.as_secs_f64());
            }
            Json(answer)
        }
        Err(e) => swarm_error(e.to_string(), &default_host),
    }
}

pub async fn stop(State(ui): Shared) -> Json<Value> {
    ui.control.stop().await;
    ui.forget_cache();
    Json(json!({ "success": true, "message": "Test stopped" }))
}

pub async fn reset(State(ui): Shared) -> &'static str {
    if let Some(stats) = ui.control.stats() {
        stats.reset();
    }
    ui.forget_cache();
    "ok"
}

/// Locust's row dict (`StatsEntry.to_dict`), plus Stampede's p50/p99.9 for the table.
fn row_json(r: &crate::stats::RowSummary) -> Value {
    let p = |q: f64| r.percentile(q).unwrap_or(0.0);
    json!({
        "method": r.method,
        "name": r.name,
        "num_requests": r.num_requests,
        "num_failures": r.num_failures,
        // Stampede's: sent, but no answer when the run ended (Locust has no such count).
        "num_unanswered": r.num_unanswered,
        "min_response_time": r.min_response_time,
        "max_response_time": r.max_response_time,
        "current_rps": r.current_rps,
        "current_fail_per_sec": r.current_fail_per_sec,
        "avg_response_time": r.avg_response_time,
        "median_response_time": r.median_response_time,
        "total_rps": r.total_rps,
        "total_fail_per_sec": r.total_fail_per_sec,
        "response_time_percentile_0.95": p(0.95),
        "response_time_percentile_0.99": p(0.99),
        "response_time_percentile_0.999": p(0.999),
        "avg_content_length": r.avg_content_length,
        // Stampede's: how the requests were timed, and the parts of a request.
        "timing": crate::report::json::timing_row(&r.timing),
    })
}

/// `GET /stats/requests`, in Locust's shape.
pub async fn requests(State(ui): Shared) -> Json<Value> {
    if let Some((at, v)) = ui.cache.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        if at.elapsed() < CACHE_FOR {
            return Json((**v).clone());
        }
    }
    let status = ui.control.status();
    let value = match (ui.summary().await, status) {
        (Some(s), Some(st)) => {
            let mut rows: Vec<Value> = s.rows.iter().take(500).map(row_json).collect();
            rows.push(row_json(&s.total));
            json!({
                "state": st.state.as_str(),
                "user_count": s.user_count,
                "users_by_type": s.users_by_type.iter().map(|(n, c)| json!({ "name": n, "count": c })).collect::<Vec<_>>(),
                "host": st.host,
                "target_users": st.target_users,
                "spawn_rate": st.spawn_rate,
                "stats": rows,
                "errors": s.errors.iter().take(500).map(|e| json!({ "method": e.method, "name": e.name, "error": e.error, "occurrences": e.occurrences })).collect::<Vec<_>>(),
                "exceptions_count": s.exceptions.iter().map(|e| e.count).sum::<u64>(),
                "current_rps": s.total.current_rps,
                "current_fail_per_sec": s.total.current_fail_per_sec,
                "total_rps": s.total.total_rps,
                "total_fail_per_sec": s.total.total_fail_per_sec,
                "fail_ratio": s.total.fail_ratio,
                "workers": workers(&ui),
                "generator": s.generator,
                "current_response_time_percentiles": {
                    "response_time_percentile_0.5": s.current_p50_ms,
                    "response_time_percentile_0.95": s.current_p95_ms,
                },
            })
        }
        _ => {
            json!({ "state": "ready", "user_count": 0, "stats": [], "errors": [], "total_rps": 0.0, "total_fail_per_sec": 0.0, "fail_ratio": 0.0 })
        }
    };
    let value = Arc::new(value);
    *ui.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), value.clone()));
    Json((*value).clone())
}

/// The workers of a distributed master, as Locust lists them; null otherwise.
fn workers(ui: &Ui) -> Value {
    let Some(test) = ui.control.test() else {
        return Value::Null;
    };
    let t = test.lock().unwrap_or_else(|p| p.into_inner());
    match &t.swarm.workers {
        Some(w) => serde_json::to_value(&*w.borrow()).unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// `GET /stats/history?since=UNIX_TIME`: one point a second, for the charts.
pub async fn history(State(ui): Shared, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let since: f64 = q.get("since").and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let Some(stats) = ui.control.stats() else {
        return Json(json!([]));
    };
    let points = stats.history_since(since).await;
    Json(Value::Array(
        points
            .iter()
            .map(crate::report::json::history_point)
            .collect(),
    ))
}

/// `GET /stats/funnel`: the declared funnel's steps and each type's task mix.
pub async fn funnel(State(ui): Shared) -> Json<Value> {
    let types = ui.control.plan.user_types();
    let funnel = ui.control.plan.funnel_steps();
    let Some(s) = ui.summary().await else {
        return Json(
            json!({ "funnel": report_json::funnel_from(|_| 0, funnel), "tasks": report_json::tasks_from(|_, _| 0, &types) }),
        );
    };
    let count = |step: &str| {
        s.rows
            .iter()
            .filter(|r| r.name == step)
            .map(|r| r.num_requests)
            .sum()
    };
    let runs = |t: &str, k: &str| {
        s.task_runs
            .iter()
            .find(|(u, n, _)| u == t && n == k)
            .map_or(0, |(_, _, c)| *c)
    };
    Json(
        json!({ "funnel": report_json::funnel_from(count, funnel), "tasks": report_json::tasks_from(runs, &types) }),
    )
}

/// `GET /exceptions`, in Locust's shape.
pub async fn exceptions(State(ui): Shared) -> Json<Value> {
    let list = match ui.summary().await {
        Some(s) => s.exceptions.iter().map(|e| json!({ "count": e.count, "msg": e.msg, "traceback": e.traceback, "nodes": e.nodes.join(", ") })).collect(),
        None => Vec::new(),
    };
    Json(json!({ "exceptions": list }))
}

fn attachment(body: String, content_type: &'static str, name: &str) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

fn file_stamp() -> String {
    format!("{}", unix_now() as u64)
}

async fn csv_download(ui: &Ui, kind: &str, render: fn(&StatsState) -> String) -> Response {
    let stats = ui
        .snapshot()
        .await
        .unwrap_or_else(|| StatsState::new(unix_now(), false));
    attachment(
        render(&stats),
        "text/csv",
        &format!("stampede_{kind}_{}.csv", file_stamp()),
    )
}

pub async fn requests_csv(State(ui): Shared) -> Response {
    csv_download(&ui, "requests", csv::stats_csv).await
}
pub async fn failures_csv(State(ui): Shared) -> Response {
    csv_download(&ui, "failures", csv::failures_csv).await
}
pub async fn exceptions_csv(State(ui): Shared) -> Response {
    csv_download(&ui, "exceptions", csv::exceptions_csv).await
}
pub async fn history_csv(State(ui): Shared) -> Response {
    csv_download(&ui, "stats_history", csv::history_csv).await
}

/// The report's inputs for the current test, or `None` before any test.
async fn report(ui: &Ui) -> Option<(Value, StatsState)> {
    let test = ui.control.test()?;
    let (stats, host, peak) = {
        let t = test.lock().unwrap_or_else(|p| p.into_inner());
        (
            t.swarm.stats.clone(),
            crate::config::redacted_host(&t.host),
            t.swarm.users_by_type(t.peak_users),
        )
    };
    let state = stats.snapshot().await;
    let value = super::report_value(&ui.control, &state, &host, &peak);
    Some((value, state))
}

pub async fn report_json(State(ui): Shared) -> Response {
    match report(&ui).await {
        Some((v, _)) => attachment(
            serde_json::to_string_pretty(&v).unwrap_or_default(),
            "application/json",
            &format!("stampede_report_{}.json", file_stamp()),
        ),
        None => (StatusCode::NOT_FOUND, "no test has run yet\n").into_response(),
    }
}

pub async fn locust_json(State(ui): Shared) -> Response {
    let stats = ui
        .snapshot()
        .await
        .unwrap_or_else(|| StatsState::new(unix_now(), false));
    attachment(
        serde_json::to_string_pretty(&report_json::locust_json(&stats)).unwrap_or_default(),
        "application/json",
        &format!("stampede_locust_{}.json", file_stamp()),
    )
}

/// `GET /stats/report`: the self-contained HTML report; `?download=1` as a file.
pub async fn html_report(State(ui): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some((value, state)) = report(&ui).await else {
        return (StatusCode::NOT_FOUND, "no test has run yet\n").into_response();
    };
    let page = html::render(&value, &state.history);
    if q.contains_key("download") {
        attachment(
            page,
            "text/html; charset=utf-8",
            &format!("stampede_report_{}.html", file_stamp()),
        )
    } else {
        Html(page).into_response()
    }
}
