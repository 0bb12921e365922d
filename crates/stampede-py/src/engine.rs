//! The engine as Python starts it: a Stampede run on its own tokio threads, whose users
//! are the locustfile's classes. Python keeps the main thread and gevent's hub; it watches
//! [`Engine::fd`] and calls [`Engine::drain`] when it is readable.

use std::collections::HashMap;
use std::os::unix::io::AsRawFd;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use stampede::advanced::plan::{TaskInfo, UserTypeInfo};
use stampede::advanced::UiOption;
use stampede::{App, CancellationToken, Plan};

use crate::msg::{Milestone, Msg, RawData, Reply};
use crate::user::PyUserType;
use crate::wake::{pair, Drain, Wake};

/// A user class as Python describes it: name, weight, fixed count, tasks (name, weight)
/// and whether they run in order.
type ClassSpec = (String, u32, Option<u64>, Vec<(String, u32)>, bool);

/// A start-form field for a locustfile argument: name, label, value, secret, choices, flag.
type UiOptionSpec = (String, String, String, bool, Vec<String>, bool);

#[pyclass(module = "stampede._core", frozen)]
pub struct Engine {
    wake: Wake<Msg>,
    drain: Drain<Msg>,
    shutdown: CancellationToken,
    thread: Mutex<Option<JoinHandle<i32>>>,
    hooks: Hooks,
    shape: crate::shape::ShapeCell,
    outbox: Arc<crate::handle::Outbox>,
    relay: crate::relay::PyRelay,
}

/// Lifecycle hooks waiting for Python's listeners, by ticket.
type Hooks = Arc<Mutex<HashMap<u64, tokio::sync::oneshot::Sender<()>>>>;

/// A plan hook that runs the Python listeners of `event` and waits until they are done.
fn python_hook(
    wake: &Wake<Msg>,
    hooks: &Hooks,
    event: &'static str,
) -> impl Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync + 'static {
    let (wake, hooks) = (wake.clone(), hooks.clone());
    move || {
        let ticket = crate::handle::next_ticket();
        let (tx, rx) = tokio::sync::oneshot::channel();
        hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ticket, tx);
        wake.push(Msg::Hook { ticket, event });
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

#[pymethods]
impl Engine {
    #[new]
    fn new() -> PyResult<Self> {
        let (wake, drain) =
            pair().map_err(|e| PyRuntimeError::new_err(format!("no socket pair: {e}")))?;
        let relay = crate::relay::PyRelay::new(wake.clone());
        Ok(Self {
            relay,
            wake,
            drain,
            shutdown: CancellationToken::new(),
            thread: Mutex::new(None),
            hooks: Arc::default(),
            shape: Default::default(),
            outbox: Arc::default(),
        })
    }

    /// The socket to watch for reading (gevent: `hub.loop.io(fd, 1)`).
    fn fd(&self) -> i32 {
        self.drain.socket().as_raw_fd()
    }

    /// Starts the run: `argv` is Stampede's command line (program name first), `classes`
    /// the locustfile's user classes. Returns at once; the run's end arrives as a
    /// `("finished", code)` message. With `shape`, the locustfile's `LoadTestShape` drives
    /// the users: Python ticks it and reports each answer with
    /// [`set_shape`](Self::set_shape) or [`end_shape`](Self::end_shape).
    #[pyo3(signature = (argv, classes, threads=None, shape=false))]
    fn start(
        &self,
        argv: Vec<String>,
        classes: Vec<ClassSpec>,
        threads: Option<usize>,
        shape: bool,
    ) -> PyResult<()> {
        let mut slot = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return Err(PyRuntimeError::new_err(
                "the engine has already started a run",
            ));
        }
        let mut plan = Plan::new();
        for (class, (name, weight, fixed_count, tasks, sequential)) in
            classes.into_iter().enumerate()
        {
            let info = UserTypeInfo {
                name,
                weight,
                fixed_count,
                tasks: tasks
                    .into_iter()
                    .map(|(name, weight)| TaskInfo {
                        name,
                        weight,
                        tags: Vec::new(),
                    })
                    .collect(),
                sequential,
                arrivals: None,
            };
            plan = plan.erased_user_type(Arc::new(PyUserType {
                info,
                class,
                wake: self.wake.clone(),
                outbox: self.outbox.clone(),
            }));
        }
        if shape {
            plan = plan.shape(self.shape.clone());
        }
        let (wake, outbox) = (self.wake.clone(), self.outbox.clone());
        let plan = plan.on_outside_users(move |ctx| {
            tokio::spawn(crate::user::outside_users(
                ctx,
                wake.clone(),
                outbox.clone(),
            ));
        });
        let milestones = self.wake.clone();
        let plan = plan
            .relay(self.relay.relay.clone())
            .on_test_start(python_hook(&self.wake, &self.hooks, "test_start"))
            .on_test_stop(python_hook(&self.wake, &self.hooks, "test_stop"))
            .on_milestone(move |m| {
                if let Some(m) = milestone(m) {
                    milestones.push(Msg::Milestone(m));
                }
            });
        let wake = self.wake.clone();
        let shutdown = self.shutdown.clone();
        let threads = threads.unwrap_or(1).max(1);
        let handle = std::thread::Builder::new()
            .name("stampede-engine".into())
            .spawn(move || run(argv, plan, shutdown, threads, &wake))
            .map_err(|e| PyRuntimeError::new_err(format!("could not start the engine: {e}")))?;
        *slot = Some(handle);
        Ok(())
    }

    /// Everything the engine has for Python since the last call, as tuples:
    /// `("spawn", class, user_id, handle, host)`, `("stop", user_id)`, `("kill", user_id)`,
    /// `("reply", ticket, value)` and `("finished", code)`.
    fn drain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for msg in self.drain.drain() {
            let item: Bound<'py, PyTuple> = match msg {
                Msg::Spawn {
                    class,
                    user_id,
                    host,
                    handle,
                } => ("spawn", class, user_id, Bound::new(py, handle)?, host).into_pyobject(py)?,
                Msg::Stop { user_id } => ("stop", user_id).into_pyobject(py)?,
                Msg::OutsideUsers { handle } => {
                    ("outside_users", Bound::new(py, handle)?).into_pyobject(py)?
                }
                Msg::Kill { user_id } => ("kill", user_id).into_pyobject(py)?,
                Msg::Finished { code } => ("finished", code).into_pyobject(py)?,
                Msg::Hook { ticket, event } => ("hook", ticket, event).into_pyobject(py)?,
                Msg::Milestone(m) => match m {
                    Milestone::WebUi(url) => ("web_ui", url).into_pyobject(py)?,
                    Milestone::Ramping { users, rate, shape } => {
                        ("ramping", users, rate, shape).into_pyobject(py)?
                    }
                    Milestone::Spawned(counts) => ("spawned", counts).into_pyobject(py)?,
                    Milestone::Ending(why) => ("ending", why).into_pyobject(py)?,
                },
                Msg::Relay(r) => {
                    self.relay.drained();
                    crate::relay::to_tuple(py, r)?
                }
                Msg::Reply { ticket, reply } => {
                    let value = match reply {
                        Reply::Raw(raw) => Bound::new(py, Raw::new(py, ticket, *raw))?.into_any(),
                        Reply::Cookies(list) => list.into_pyobject(py)?.into_any(),
                    };
                    ("reply", ticket, value).into_pyobject(py)?
                }
            };
            out.append(item)?;
        }
        Ok(out)
    }

    /// Sends the commands the users queued since the last flush (call before the hub waits
    /// for I/O: a gevent `prepare` watcher does).
    fn flush(&self) {
        self.outbox.flush();
    }

    /// The listeners of the hook under `ticket` are done: the run goes on.
    fn hook_done(&self, ticket: u64) {
        let tx = self
            .hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ticket);
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
    }

    /// Before [`start`](Self::start): `forwarded`, the locustfile's own arguments, which a
    /// master sends its workers; `ui_options`, those the web UI's start form shows;
    /// `node_id`, the id a worker announces (its `runner.client_id`).
    #[pyo3(signature = (forwarded=Vec::new(), ui_options=Vec::new(), node_id=None))]
    fn set_relay(
        &self,
        forwarded: Vec<(String, Bound<'_, PyAny>)>,
        ui_options: Vec<UiOptionSpec>,
        node_id: Option<String>,
    ) {
        if let Some(id) = node_id {
            self.relay.relay.set_node_id(id);
        }
        self.relay.set_options(forwarded);
        self.relay.relay.set_ui_options(
            ui_options
                .into_iter()
                .map(|(name, help, value, secret, choices, flag)| UiOption {
                    name,
                    help,
                    value,
                    secret,
                    choices,
                    flag,
                })
                .collect(),
        );
    }

    /// The locustfile's own arguments changed (the web UI's start form): what a master
    /// forwards to its workers from now on.
    fn set_forwarded(&self, forwarded: Vec<(String, Bound<'_, PyAny>)>) {
        self.relay.set_options(forwarded);
    }

    /// `runner.send_message(kind, data, client_id)` on a master or worker.
    #[pyo3(signature = (kind, data, to=None))]
    fn send_message(
        &self,
        kind: String,
        data: &Bound<'_, PyAny>,
        to: Option<String>,
    ) -> PyResult<()> {
        self.relay.send(kind, data, to)
    }

    /// The `report_to_master` listeners are done with the report under `ticket`: `data`
    /// goes with it (`None`: a listener raised, it goes without).
    #[pyo3(signature = (ticket, data=None))]
    fn report_extra(&self, ticket: u64, data: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        match data {
            Some(d) => self.relay.answer_report(ticket, d),
            None => {
                self.relay.skip_report(ticket);
                Ok(())
            }
        }
    }

    /// The load shape's latest answer: `users` at `rate` per second.
    fn set_shape(&self, users: u64, rate: f64) {
        self.shape.set(users, rate);
    }

    /// The load shape returned `None`: the test ends at the engine's next tick.
    fn end_shape(&self) {
        self.shape.end();
    }

    /// Ends the run as Ctrl-C does.
    fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits for the run's thread (after `finished`); its exit code.
    fn join(&self, py: Python<'_>) -> i32 {
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        match handle {
            Some(h) => py.detach(|| h.join().unwrap_or(1)),
            None => 0,
        }
    }
}

/// The engine's milestone as Python reads it (`None` for kinds it does not know).
fn milestone(m: &stampede::advanced::lifecycle::Milestone) -> Option<Milestone> {
    use stampede::advanced::lifecycle::{Ending, Milestone as M};
    Some(match m {
        M::WebUi { url } => Milestone::WebUi(url.clone()),
        M::Ramping { users, rate, shape } => Milestone::Ramping {
            users: *users,
            rate: *rate,
            shape: *shape,
        },
        M::Spawned { users } => Milestone::Spawned(users.clone()),
        M::Ending(e) => Milestone::Ending(match e {
            Ending::RunTime => "--run-time limit reached",
            Ending::ShapeEnded => "Shape test stopping",
            Ending::UsersEnded => "All users stopped",
            Ending::Stopped => "Stopped",
        }),
        _ => return None,
    })
}

/// The run on its own runtime: Stampede's whole command line, modes and reports.
/// Python hears of the end as soon as the run returns; the runtime is then shut down
/// without waiting for blocking tasks that may never end (a reader of stdin).
fn run(
    argv: Vec<String>,
    plan: Plan,
    shutdown: CancellationToken,
    threads: usize,
    wake: &Wake<Msg>,
) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("stampede-io")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the engine's runtime: {e}");
            wake.push(Msg::Finished { code: 1 });
            return 1;
        }
    };
    let code = rt.block_on(async move {
        match App::new(plan).run(argv, shutdown).await {
            Ok(outcome) => outcome.exit_code,
            Err(code) => code,
        }
    });
    wake.push(Msg::Finished { code });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

/// The redirects followed, as `(status, url, headers)` tuples (`response.history`).
fn hops(py: Python<'_>, history: Vec<crate::msg::Hop>) -> Py<PyList> {
    let list = PyList::empty(py);
    for hop in history {
        let _ = list.append(hop);
    }
    list.unbind()
}

/// One response as a session reads it (`stampede/_transport.py`'s `Raw`).
#[pyclass(module = "stampede._core", frozen, get_all)]
pub struct Raw {
    ticket: u64,
    status: u16,
    reason: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Py<PyBytes>,
    elapsed: f64,
    redirects: u32,
    error_kind: Option<&'static str>,
    error: Option<String>,
    content_length: u64,
    recorded: bool,
    encoded: bool,
    /// Each redirect followed, as `(status, url, headers)`.
    history: Py<pyo3::types::PyList>,
    request_headers: Option<Vec<(String, String)>>,
}

impl Raw {
    fn new(py: Python<'_>, ticket: u64, d: RawData) -> Self {
        Self {
            ticket,
            status: d.status,
            reason: d.reason,
            url: d.url,
            headers: d.headers,
            body: PyBytes::new(py, &d.body).unbind(),
            elapsed: d.elapsed,
            redirects: d.redirects,
            error_kind: d.error_kind,
            error: d.error,
            content_length: d.content_length,
            recorded: d.recorded,
            encoded: d.encoded,
            history: hops(py, d.history),
            request_headers: None,
        }
    }
}
