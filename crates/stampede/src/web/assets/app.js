// Stampede's web UI. Live mode polls the plan binary's API; report mode (the HTML report)
// renders the same views from data embedded in the page. No external assets.
"use strict";

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 2000;
const embedded = document.getElementById("report-data");
const REPORT = embedded ? JSON.parse(embedded.textContent) : null;

// ---------- formatting and DOM helpers (text only: names come from the plan or the target)
function fmt(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const ms = (v) => fmt(v, v < 10 ? 1 : 0);
const pct = (v) => (v === null || v === undefined ? "–" : fmt(v * 100, 1) + "%");
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
function fillTable(table, rows, toCells, rowClass) {
  const body = table.tBodies[0];
  const frag = document.createDocumentFragment();
  for (const r of rows) {
    const tr = document.createElement("tr");
    if (rowClass) tr.className = rowClass(r) || "";
    for (const c of toCells(r)) tr.appendChild(c instanceof Node ? c : cell(String(c)));
    frag.appendChild(tr);
  }
  body.replaceChildren(frag);
}
function bar(share, cls) {
  const td = document.createElement("td");
  const b = document.createElement("span");
  b.className = "bar " + (cls || "");
  b.style.width = Math.round(Math.max(0, Math.min(1, share)) * 120) + "px";
  td.append(b, document.createTextNode(pct(share)));
  return td;
}

// ---------- tabs
let activeTab = "stats";
for (const btn of document.querySelectorAll(".tabs button")) {
  btn.addEventListener("click", () => showTab(btn.dataset.tab));
}
function showTab(name) {
  activeTab = name;
  for (const btn of document.querySelectorAll(".tabs button")) btn.classList.toggle("active", btn.dataset.tab === name);
  for (const sec of document.querySelectorAll("main .tab")) sec.hidden = sec.id !== "tab-" + name;
  if (name === "charts") drawCharts();
  if (!REPORT) refreshTab();
}

// ---------- the views, shared by live and report modes
function renderStats(rows, total) {
  const cells = (r) => [
    r.method, cell(r.name, "name"), fmt(r.num_requests), cell(fmt(r.num_failures), r.num_failures ? "failing" : ""),
    fmt(r.unanswered || 0), ms(r.median), ms(r.p95), ms(r.p99), ms(r.avg), ms(r.min), ms(r.max), fmt(r.size), fmt(r.rps, 1), fmt(r.fps, 1),
  ];
  fillTable($("#stats-table"), rows.concat([total]), cells, (r) => (r === total ? "total" : ""));
  renderTiming(rows, total);
}
// How each endpoint's requests were timed, and the average parts of one (oha's breakdown).
function renderTiming(rows, total) {
  const cells = (r) => {
    const t = r.timing || {};
    const kernel = r.num_requests ? fmt((100 * (t.kernel_timed || 0)) / r.num_requests, 0) + " %" : "–";
    return [r.method, cell(r.name, "name"), kernel, fmt(t.connections_opened || 0), ms(t.dns_ms), ms(t.connect_ms), ms(t.tls_ms), ms(t.ttfb_ms)];
  };
  fillTable($("#timing-table"), rows.concat([total]), cells, (r) => (r === total ? "total" : ""));
}
function renderFailures(errors) {
  $("#badge-failures").textContent = errors.length ? String(errors.length) : "";
  fillTable($("#failures-table"), errors, (e) => [fmt(e.occurrences), e.method, cell(e.name, "name"), cell(e.error, "name")]);
}
function renderExceptions(list) {
  $("#badge-exceptions").textContent = list.length ? String(list.length) : "";
  fillTable($("#exceptions-table"), list, (e) => [fmt(e.count), cell(e.msg, "name"), cell(e.traceback, "name"), Array.isArray(e.nodes) ? e.nodes.join(", ") : e.nodes]);
}
function renderFunnel(funnel, tasks) {
  $("#funnel-empty").hidden = funnel.length > 0;
  fillTable($("#funnel-table"), funnel, (s) => [s.step, cell(s.name, "name"), fmt(s.count), s.conversion === null ? cell("–") : bar(s.conversion)]);
  fillTable($("#tasks-table"), tasks, (t) => [cell(t.user_type, "type"), cell(t.task, "name"), t.weight, bar(t.declared_ratio, "declared"), bar(t.observed_ratio), fmt(t.runs)]);
}
function setKpis(k) {
  $("#kpi-host").textContent = k.host || "–";
  $("#kpi-state").textContent = k.state;
  $("#kpi-users").textContent = fmt(k.users);
  $("#kpi-rps").textContent = fmt(k.rps, 1);
  $("#kpi-fail").textContent = pct(k.failRatio);
}

// ---------- charts: whole-run history, drawn on canvas
const history = [];
function drawChart(canvas, series) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 600, h = canvas.height / (canvas.dataset.scaled ? dpr : 1);
  if (!canvas.dataset.scaled) { canvas.dataset.h = canvas.height; }
  const cssH = Number(canvas.dataset.h);
  canvas.width = w * dpr; canvas.height = cssH * dpr; canvas.style.height = cssH + "px"; canvas.dataset.scaled = "1";
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, cssH);
  const pts = series.flatMap((s) => s.points);
  canvas.dataset.points = String(series.length ? series[0].points.length : 0);
  const left = 56, right = 12, top = 22, bottom = 22, H = cssH - top - bottom, W = w - left - right;
  g.font = "11px system-ui, sans-serif"; g.fillStyle = "#6b7385"; g.strokeStyle = "#e1e4ea";
  if (!pts.length) { g.fillText("waiting for data…", left, top + H / 2); return; }
  const t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]), t0 + 1);
  const vmax = Math.max(1e-9, ...pts.map((p) => p[1])) * 1.1;
  for (let i = 0; i <= 4; i++) {
    const y = top + H - (H * i) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(left + W, y); g.stroke();
    g.fillText(fmt((vmax * i) / 4, vmax < 10 ? 1 : 0), 4, y + 4);
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    const label = new Date(t * 1000).toLocaleTimeString("en-GB");
    const lw = g.measureText(label).width;
    g.fillText(label, Math.min(left + (W * i) / 4 - lw / 2, w - right - lw), top + H + 15);
  }
  let lx = left;
  for (const s of series) {
    g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
    s.points.forEach(([t, v], i) => {
      const x = left + ((t - t0) / (t1 - t0)) * W, y = top + H - (v / vmax) * H;
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke(); g.lineWidth = 1;
    g.fillStyle = s.color; g.fillRect(lx, 6, 10, 10); g.fillStyle = "#1d2330"; g.fillText(s.label, lx + 14, 15); lx += 24 + g.measureText(s.label).width;
  }
  g.strokeStyle = "#e1e4ea"; g.fillStyle = "#6b7385";
}
const colors = { p50: "#2f6fed", p95: "#e8912d", p99: "#8e44ad" };
function drawCharts() {
  if (activeTab !== "charts") return;
  const series = (key) => history.map((p) => [p.time, p[key] || 0]);
  drawChart($("#chart-rps"), [
    { label: "RPS", color: "#1f9d55", points: series("current_rps") },
    { label: "Failures/s", color: "#d93b3b", points: series("current_fail_per_sec") },
  ]);
  const chosen = [...document.querySelectorAll(".chart-options input:checked")].map((i) => i.value);
  drawChart($("#chart-times"), chosen.map((k) => ({ label: k.replace("p", "") + "%", color: colors[k], points: series(k) })));
  drawChart($("#chart-users"), [{ label: "Users", color: "#2f6fed", points: series("user_count") }]);
}
for (const box of document.querySelectorAll(".chart-options input")) box.addEventListener("change", drawCharts);
window.addEventListener("resize", drawCharts);

// ---------- report mode: everything from the embedded data
function reportRow(r) {
  return { method: r.method, name: r.name, num_requests: r.num_requests, num_failures: r.num_failures, unanswered: r.unanswered, median: r.median_response_time_ms,
    p95: r.percentiles_ms["95"], p99: r.percentiles_ms["99"], avg: r.avg_response_time_ms, min: r.min_response_time_ms,
    max: r.max_response_time_ms, size: r.avg_content_length, rps: r.total_rps, fps: r.total_fail_per_sec, timing: r.timing };
}
// Says when the generator could not send the load it was asked for (see stats/generator.rs).
function showGenerator(g) {
  const b = $("#generator-banner");
  if (!g || !(g.saturated_now || (REPORT && g.saturated))) { b.hidden = true; return; }
  const when = REPORT ? `for ${g.saturated_secs} s` : "now";
  // Little CPU of its own (under OWN_CPU_LOW in generator.rs): other processes held the machine.
  const busyMachine = g.peak_cpu_percent > 0 && g.peak_cpu_percent < 50;
  const advice = busyMachine ? "It used little CPU itself: the machine is busy with other work; free it or run the generator elsewhere." : "Add workers or lower the users.";
  b.textContent = `The load generator is saturated ${when}: its scheduler fell up to ${fmt(g.worst_lag_ms, 0)} ms behind (peak CPU ${fmt(g.peak_cpu_percent, 0)}% of ${g.cores} cores), so it sent less load than was asked. Response times stay right. ${advice}`;
  b.hidden = false;
}
function showReport() {
  document.body.classList.add("report");
  const rep = REPORT.report;
  document.title = "Stampede report – " + rep.host;
  setKpis({ host: rep.host, state: "finished", users: rep.user_types.reduce((a, t) => a + t.users, 0), rps: rep.total.total_rps, failRatio: rep.total.fail_ratio });
  $("#main").hidden = false;
  renderStats(rep.requests.map(reportRow), reportRow(rep.total));
  renderFailures(rep.failures);
  renderExceptions(rep.exceptions);
  renderFunnel(rep.funnel, rep.tasks);
  showGenerator(rep.generator);
  history.push(...REPORT.history);
  const start = new Date(rep.start_time * 1000).toISOString(), end = new Date(rep.end_time * 1000).toISOString();
  const footer = $("#report-footer");
  footer.hidden = false;
  footer.textContent = `Run from ${start} to ${end} (${fmt(rep.duration_s, 0)} s) against ${rep.host}; Stampede ${rep.stampede_version}; exit code ${rep.exit_code}.`;
  for (const t of rep.thresholds) {
    const p = document.createElement("p");
    p.textContent = `Threshold ${t.expr}: ${t.passed ? "passed" : "BROKEN"} (actual ${t.actual === null ? "n/a" : fmt(t.actual, 2)})`;
    footer.appendChild(p);
  }
}

// ---------- live mode
let config = null, lastHistory = 0, state = "ready", liveRows = null;
async function api(path, opts) {
  const res = await fetch(path, opts);
  if (!res.ok) throw new Error(path + ": " + res.status);
  return res.headers.get("content-type")?.includes("json") ? res.json() : res.text();
}
function liveRow(r) {
  return { method: r.method, name: r.name, num_requests: r.num_requests, num_failures: r.num_failures, unanswered: r.num_unanswered, median: r.median_response_time,
    p95: r["response_time_percentile_0.95"], p99: r["response_time_percentile_0.99"], avg: r.avg_response_time,
    min: r.min_response_time, max: r.max_response_time, size: r.avg_content_length, rps: r.current_rps, fps: r.current_fail_per_sec, timing: r.timing };
}
function showForm(editing) {
  const form = $("#swarm-form");
  $("#start").hidden = false;
  $("#form-title").textContent = editing ? "Change the running test" : "Start a new load test";
  for (const el of form.querySelectorAll(".new-only")) el.hidden = editing;
  $("#btn-start").textContent = editing ? "Update" : "Start";
  $("#btn-cancel").hidden = !editing && state === "ready";
  form.dataset.editing = editing ? "1" : "";
  $("#form-error").textContent = "";
}
function setState(s) {
  state = s;
  const live = s === "spawning" || s === "running" || s === "stopping";
  $("#btn-stop").hidden = !live;
  $("#btn-edit").hidden = !live;
  $("#btn-reset").hidden = s === "ready";
  $("#btn-new").hidden = live || s === "ready";
}
async function poll() {
  try {
    const r = await api("/stats/requests");
    setState(r.state);
    setKpis({ host: r.host || (config && config.host), state: r.state, users: r.user_count, rps: r.current_rps || 0, failRatio: r.fail_ratio || 0 });
    if (r.stats.length) {
      const rows = r.stats.map(liveRow);
      liveRows = rows;
      renderStats(rows.slice(0, -1), rows[rows.length - 1]);
    }
    renderFailures(r.errors || []);
    showGenerator(r.generator);
    $("#badge-exceptions").textContent = r.exceptions_count ? String(r.exceptions_count) : "";
    if (r.workers) { $("#tab-btn-workers").hidden = false; fillTable($("#workers-table"), r.workers, (w) => [cell(w.id, "name"), w.state, fmt(w.user_count), fmt(w.cpu_usage, 1), fmt(w.memory_usage / 1048576, 0) + " MB", w.lag_ms === undefined || w.lag_ms === null ? "–" : fmt(w.lag_ms, 1) + (w.saturated ? " (saturated)" : ""), cell((w.version || "") + (w.version_ok === false ? " (unknown version)" : ""), w.version_ok === false ? "failing" : ""), cell(fmt(w.rejected_reports || 0), w.rejected_reports ? "failing" : "")]); }
    const points = await api("/stats/history?since=" + lastHistory);
    if (points.length) { history.push(...points); lastHistory = points[points.length - 1].time; }
    await refreshTab();
    drawCharts();
  } catch (e) {
    $("#kpi-state").textContent = "unreachable";
  }
}
async function refreshTab() {
  if (REPORT) return;
  if (activeTab === "funnel") { const f = await api("/stats/funnel"); renderFunnel(f.funnel, f.tasks); }
  if (activeTab === "exceptions") { const x = await api("/exceptions"); renderExceptions(x.exceptions); }
}
async function submitForm(ev) {
  ev.preventDefault();
  const form = ev.target, data = new URLSearchParams();
  for (const name of ["user_count", "spawn_rate", "run_time"]) data.append(name, form.elements[name].value);
  if (!form.dataset.editing) {
    data.append("host", form.elements.host.value);
    for (const box of form.querySelectorAll("#user-types input:checked")) data.append("user_classes", box.value);
    for (const el of form.querySelectorAll("#custom-options [data-custom]")) data.append(el.name, el.type === "checkbox" ? String(el.checked) : el.value);
  }
  const res = await api("/swarm", { method: "POST", body: data });
  if (!res.success) { $("#form-error").textContent = res.message; return; }
  if (!form.dataset.editing) { history.length = 0; lastHistory = 0; }
  $("#start").hidden = true;
  $("#main").hidden = false;
  poll();
}
// A front's own options (a locustfile's arguments): a field each, sent with Start.
function customOptions(options) {
  const box = $("#custom-options");
  box.hidden = options.length === 0;
  for (const o of options) {
    const label = document.createElement("label");
    let input;
    if (o.choices.length) {
      input = document.createElement("select");
      for (const c of o.choices) input.appendChild(Object.assign(document.createElement("option"), { value: c, textContent: c, selected: c === o.value }));
    } else {
      input = document.createElement("input");
      if (o.flag) Object.assign(input, { type: "checkbox", checked: o.value === "true" });
      else Object.assign(input, { type: o.secret ? "password" : "text", value: o.value });
    }
    Object.assign(input, { name: o.name });
    input.dataset.custom = "1";
    label.append(document.createTextNode(o.help || o.name), input);
    box.appendChild(label);
  }
}
async function startLive() {
  config = await api("/ui/config");
  const form = $("#swarm-form");
  form.elements.user_count.value = config.users;
  form.elements.spawn_rate.value = config.spawn_rate;
  form.elements.host.value = config.host || "";
  form.elements.run_time.value = config.run_time || "";
  if (config.shape) {
    $("#shape-note").hidden = false;
    for (const el of form.querySelectorAll(".users-field")) el.hidden = true;
  }
  const box = $("#user-types");
  for (const t of config.user_types) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    Object.assign(input, { type: "checkbox", value: t.name, checked: true, name: "user_classes" });
    label.append(input, document.createTextNode(` ${t.name} (${t.open ? "arrivals" : t.fixed_count !== null ? "fixed " + t.fixed_count : "weight " + t.weight})`));
    box.appendChild(label);
  }
  customOptions(config.custom_options || []);
  form.addEventListener("submit", submitForm);
  $("#btn-cancel").addEventListener("click", () => { $("#start").hidden = true; $("#main").hidden = false; });
  $("#btn-edit").addEventListener("click", () => showForm(true));
  $("#btn-new").addEventListener("click", () => { $("#main").hidden = true; showForm(false); });
  $("#btn-stop").addEventListener("click", async () => { await api("/stop", { method: "POST" }); poll(); });
  $("#btn-reset").addEventListener("click", async () => { await api("/stats/reset", { method: "POST" }); history.length = 0; lastHistory = 0; poll(); });
  if (config.state === "ready") showForm(false); else $("#main").hidden = false;
  setState(config.state);
  await poll();
  setInterval(poll, POLL_MS);
}

if (REPORT) showReport(); else startLive();
