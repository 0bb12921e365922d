//! A locustfile's user class as the runner sees it: an [`ErasedUserType`] whose life in
//! Rust serves the commands of one Python greenlet. The runner spawns, counts, stops and
//! distributes these users like any other; the greenlet runs the class's own loop.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::Method;
use stampede::advanced::client::Pending;
use stampede::advanced::plan::UserTypeInfo;
use stampede::advanced::stats::Event;
use stampede::advanced::{ErasedUserType, UserControl};
use stampede::{Client, Response, UserContext};
use tokio::sync::mpsc;

use crate::handle::UserHandle;
use crate::msg::{Cmd, Msg, RawData, Reply, Spec};
use crate::wake::Wake;

/// Requests answered and not yet judged, per user: a session always judges each at once,
/// so more than this means commands were lost; the oldest are then dropped.
const MAX_PENDING: usize = 1024;

/// One class of the locustfile.
pub struct PyUserType {
    pub info: UserTypeInfo,
    /// Its index in the list Python gave at start.
    pub class: usize,
    pub wake: Wake<Msg>,
    /// Where the users' handles queue their commands until the hub flushes them.
    pub outbox: Arc<crate::handle::Outbox>,
}

/// What a locustfile's user gets past `--stop-timeout` to run its `on_stop` after being
/// killed (Locust waits for it without a bound; a cap keeps a stuck `on_stop` from holding
/// the run's end for ever).
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl ErasedUserType for PyUserType {
    fn info(&self) -> &UserTypeInfo {
        &self.info
    }

    fn stop_grace(&self) -> std::time::Duration {
        STOP_GRACE
    }

    fn live(
        &self,
        ctx: UserContext,
        ctl: UserControl,
        _enabled: Arc<[usize]>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(life(
            ctx,
            ctl,
            Role::User { class: self.class },
            self.wake.clone(),
            self.outbox.clone(),
        ))
    }
}

/// Whom a life in Rust serves: a user of one of the locustfile's classes, or the sessions
/// built by hand outside any user ([`stampede::Plan::on_outside_users`]), which no runner
/// spawns or stops: that life lasts until its handle is dropped or the run ends.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    User { class: usize },
    OutsideUsers,
}

/// The life that serves sessions built outside any user, on `ctx`. Its handle reaches
/// Python now, before this returns: the engine runs `test_start` next, and its listeners
/// may send at once.
pub fn outside_users(
    ctx: UserContext,
    wake: Wake<Msg>,
    outbox: Arc<crate::handle::Outbox>,
) -> BoxFuture<'static, ()> {
    let ctl = UserControl {
        stop: tokio_util::sync::CancellationToken::new(),
        once: false,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    wake.push(Msg::OutsideUsers {
        handle: UserHandle::new(tx, ctx.user_id(), outbox),
    });
    Box::pin(serve(ctx, ctl, Role::OutsideUsers, wake, rx))
}

/// Tells Python to kill the greenlet when the runner drops this user's life (its stop
/// timeout ran out), so no greenlet outlives its user.
struct KillOnDrop {
    wake: Wake<Msg>,
    user_id: u64,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.wake.push(Msg::Kill {
                user_id: self.user_id,
            });
        }
    }
}

/// The user's own state in Rust: its sessions and the requests awaiting a verdict.
struct Life {
    ctx: UserContext,
    /// The class name, made once: every task run names it.
    user_type: Arc<str>,
    sessions: Vec<Client>,
    pending: HashMap<u64, (usize, Pending, Result<Response, String>)>,
    wake: Wake<Msg>,
}

impl Drop for Life {
    /// The run ended this user between a response and Python's verdict on it: the request
    /// left the machine and was answered, so it is recorded rather than lost.
    fn drop(&mut self) {
        let tickets: Vec<u64> = self.pending.keys().copied().collect();
        for ticket in tickets {
            self.record_unjudged(ticket);
        }
        self.ctx.recorder().flush();
    }
}

async fn life(
    ctx: UserContext,
    ctl: UserControl,
    role: Role,
    wake: Wake<Msg>,
    outbox: Arc<crate::handle::Outbox>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = UserHandle::new(tx, ctx.user_id(), outbox);
    if let Role::User { class } = role {
        wake.push(Msg::Spawn {
            class,
            user_id: ctx.user_id(),
            host: ctx.host().to_string(),
            handle,
        });
    }
    serve(ctx, ctl, role, wake, rx).await;
}

/// Serves one handle's commands until it is dropped (or its user's life is ended).
async fn serve(
    ctx: UserContext,
    ctl: UserControl,
    role: Role,
    wake: Wake<Msg>,
    mut rx: mpsc::UnboundedReceiver<Box<Cmd>>,
) {
    let user_id = ctx.user_id();
    let mut guard = KillOnDrop {
        wake: wake.clone(),
        user_id,
        armed: matches!(role, Role::User { .. }),
    };
    let mut me = Life {
        sessions: vec![ctx.client()],
        user_type: Arc::from(ctx.user_type()),
        ctx,
        pending: HashMap::new(),
        wake: wake.clone(),
    };
    let mut stop_sent = false;
    // Commands that came while a request was out, served after it, in order.
    let mut later: std::collections::VecDeque<Cmd> = std::collections::VecDeque::new();
    loop {
        let cmd = match later.pop_front() {
            Some(cmd) => Some(cmd),
            None => tokio::select! {
                cmd = rx.recv() => cmd.map(|c| *c),
                () = ctl.stop.cancelled(), if !stop_sent => {
                    stop_sent = true;
                    wake.push(Msg::Stop { user_id });
                    continue;
                }
            },
        };
        match cmd {
            None | Some(Cmd::Ended) => break,
            Some(Cmd::Request {
                ticket,
                session,
                spec,
                ran,
            }) => {
                me.tasks_ran(ran);
                // A stop must reach Python mid-request: Locust kills a user wherever it is.
                let stop = ctl.stop.clone();
                // Boxed: inline, the request's state would size every idle user's future.
                let mut fut = Box::pin(me.request(ticket, session as usize, spec));
                loop {
                    tokio::select! {
                        () = &mut fut => break,
                        () = stop.cancelled(), if !stop_sent => {
                            stop_sent = true;
                            wake.push(Msg::Stop { user_id });
                        }
                        cmd = rx.recv() => match cmd.map(|c| *c) {
                            // Its greenlet was killed while it was out (Locust abandons such a
                            // request): dropped here, it is counted as unanswered.
                            Some(Cmd::Forget { ticket: t }) if t == ticket => break,
                            Some(other) => later.push_back(other),
                            None => break,
                        },
                    }
                }
            }
            Some(other) => me.command(other),
        }
    }
    guard.armed = false;
}

impl Life {
    fn session(&mut self, i: usize) -> &mut Client {
        // Python numbers sessions from the handle, so an unknown one is a bug there;
        // the user's own client serves it rather than failing the request.
        let i = if i < self.sessions.len() { i } else { 0 };
        &mut self.sessions[i]
    }

    async fn request(&mut self, ticket: u64, session: usize, spec: Spec) {
        let Spec {
            method,
            url,
            name,
            headers,
            body,
            allow_redirects,
            max_redirects,
            timeout,
            auto,
        } = spec;
        let session = if session < self.sessions.len() {
            session
        } else {
            0
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        let asked = url.clone();
        let client = self.session(session);
        let mut req = client
            .request(method, url)
            .name(name)
            .without_browser_headers()
            .max_redirects(max_redirects);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        if !body.is_empty() {
            req = req.body(body);
        }
        if !allow_redirects {
            req = req.no_redirects();
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let done = req.send_unrecorded().await;
        let mut raw = RawData::from_outcome(&done.outcome, done.pending.elapsed());
        if raw.url.is_empty() {
            // No response: the URL asked for, which Locust's failure texts and names quote.
            raw.url = asked;
        }
        if let Ok(resp) = &done.outcome {
            if auto.succeeds(raw.status) && !raw.encoded {
                self.sessions[session].record_pending(done.pending, Some(resp), None);
                raw.recorded = true;
                self.wake.push(Msg::Reply {
                    ticket,
                    reply: Reply::Raw(Box::new(raw)),
                });
                return;
            }
        }
        if self.pending.len() >= MAX_PENDING {
            if let Some(&oldest) = self.pending.keys().min() {
                self.pending.remove(&oldest);
            }
        }
        let outcome = done.outcome.map_err(|e| e.to_string());
        self.pending
            .insert(ticket, (session, done.pending, outcome));
        self.wake.push(Msg::Reply {
            ticket,
            reply: Reply::Raw(Box::new(raw)),
        });
    }

    /// Records a request that no verdict will come for (its greenlet was killed while it
    /// was out, or the user's life ended) by the status rule: every request that left the
    /// machine appears in the report, where Locust would drop it.
    fn record_unjudged(&mut self, ticket: u64) {
        let Some((session, pending, outcome)) = self.pending.remove(&ticket) else {
            return;
        };
        let (response, error) = match outcome {
            Ok(r) if r.status().as_u16() < 400 => (Some(r), None),
            Ok(r) => {
                let e = format!(
                    "HTTP {} (its user was stopped before judging it)",
                    r.status()
                );
                (Some(r), Some(e))
            }
            Err(e) => (None, Some(e)),
        };
        self.sessions[session].record_pending(pending, response.as_ref(), error);
    }

    /// Counts task runs of this user's class.
    fn tasks_ran(&mut self, tasks: Vec<String>) {
        if tasks.is_empty() {
            return;
        }
        for task in tasks {
            self.ctx.recorder().record(Event::TaskRun {
                user_type: self.user_type.clone(),
                task: Arc::from(task.as_str()),
            });
        }
    }

    /// Every command but a request: none of them waits on the network.
    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Record {
                ticket,
                method,
                name,
                error,
                length,
            } => {
                if let Some((s, mut p, outcome)) = self.pending.remove(&ticket) {
                    let m = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
                    p.rename(m, name);
                    let resp = outcome.ok();
                    self.sessions[s].record_pending_sized(p, resp.as_ref(), error, Some(length));
                }
            }
            Cmd::Forget { ticket } => self.record_unjudged(ticket),
            Cmd::NewSession { .. } => {
                let c = self.ctx.client();
                self.sessions.push(c);
            }
            Cmd::Cookies { ticket, session } => {
                let list = self.session(session as usize).cookie_list();
                self.wake.push(Msg::Reply {
                    ticket,
                    reply: Reply::Cookies(list),
                });
            }
            Cmd::SetCookie {
                session,
                name,
                value,
                domain,
                path,
            } => self
                .session(session as usize)
                .set_cookie(&name, &value, &domain, &path),
            Cmd::RemoveCookie {
                session,
                name,
                domain,
                path,
            } => self.session(session as usize).remove_cookie(
                &name,
                domain.as_deref(),
                path.as_deref(),
            ),
            Cmd::ClearCookies { session } => self.session(session as usize).clear_cookies(),
            Cmd::Event {
                method,
                name,
                elapsed,
                length,
                error,
            } => self
                .ctx
                .recorder()
                .record_request(&method, &name, elapsed, length, error),
            Cmd::Exception { message, traceback } => {
                self.ctx.recorder().record(Event::Exception {
                    message,
                    location: traceback,
                });
            }
            Cmd::TaskRun { tasks } => self.tasks_ran(tasks),
            Cmd::Request { .. } | Cmd::Ended => {}
        }
    }
}
