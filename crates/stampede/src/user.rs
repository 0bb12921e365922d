//! User types: who visits the site, how many of them, and what they do.

use std::sync::Arc;

use url::Url;

use std::time::Duration;

use crate::arrivals::Arrivals;
use crate::client::{Client, ClientConfig};
use crate::stats::Recorder;
use crate::task::{Task, TaskFn};
use crate::wait::WaitTime;

/// What a new user is given to build its state from.
pub struct UserContext {
    pub(crate) host: Url,
    pub(crate) client_config: ClientConfig,
    pub(crate) recorder: Recorder,
    pub(crate) user_id: u64,
    pub(crate) user_type: Arc<str>,
    /// When an open-model arrival should have started: its first request is timed from
    /// then, whatever delayed it (queueing, construction, `on_start`).
    pub(crate) intended: Option<tokio::time::Instant>,
    /// The user's stop, handed to its clients so that `think` ends with the run.
    pub(crate) stop: tokio_util::sync::CancellationToken,
}

impl UserContext {
    /// The context of requests made outside any user ([`Plan::on_outside_users`]).
    ///
    /// [`Plan::on_outside_users`]: crate::Plan::on_outside_users
    pub(crate) fn outside_users(
        host: Url,
        client_config: ClientConfig,
        recorder: Recorder,
    ) -> Self {
        Self {
            host,
            client_config,
            recorder,
            user_id: u64::MAX,
            user_type: Arc::from(""),
            intended: None,
            stop: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// A new HTTP session for this user, aimed at the run's host (Locust's `self.client`).
    pub fn client(&self) -> Client {
        let mut client = Client::new(
            self.host.clone(),
            self.client_config.clone(),
            self.recorder.clone(),
        );
        client.set_intended_start(self.intended);
        client.set_stop(self.stop.clone());
        client
    }
    /// A new HTTP session aimed at another base URL (another host of the same site, or the
    /// same server on another address).
    pub fn client_for(&self, base: Url) -> Client {
        let mut client = Client::new(base, self.client_config.clone(), self.recorder.clone());
        client.set_intended_start(self.intended);
        client.set_stop(self.stop.clone());
        client
    }
    /// The host under test, without the user info `--host` may carry (that is sent as
    /// Basic auth by the user's clients, never in a URL).
    pub fn host(&self) -> Url {
        let mut host = self.host.clone();
        let _ = host.set_username("");
        let _ = host.set_password(None);
        host
    }
    /// A number unique to this user within the process.
    pub fn user_id(&self) -> u64 {
        self.user_id
    }
    /// The name of this user's type.
    pub fn user_type(&self) -> &str {
        &self.user_type
    }
    /// For recording work that is not HTTP into the same statistics.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

pub(crate) type Constructor<U> = Arc<dyn Fn(&UserContext) -> U + Send + Sync>;

/// A kind of user with its own state `U` (Locust's `HttpUser` subclass).
pub struct UserType<U> {
    pub(crate) name: Arc<str>,
    pub(crate) weight: u32,
    pub(crate) fixed_count: Option<u64>,
    pub(crate) wait_time: WaitTime,
    pub(crate) tasks: Vec<Task<U>>,
    pub(crate) sequential: bool,
    pub(crate) on_start: Option<Arc<dyn TaskFn<U>>>,
    /// Whether an error from `on_start` stops the user (Locust's rule; the default).
    pub(crate) on_start_error_stops: bool,
    pub(crate) on_stop: Option<Arc<dyn TaskFn<U>>>,
    pub(crate) new: Constructor<U>,
    pub(crate) arrivals: Option<Arrivals>,
}

impl<U: Send + 'static> UserType<U> {
    /// A user type named `name` (the name Locust's class would have) whose users are built
    /// by `new`.
    pub fn new(name: &str, new: impl Fn(&UserContext) -> U + Send + Sync + 'static) -> Self {
        Self {
            name: name.into(),
            weight: 1,
            fixed_count: None,
            wait_time: WaitTime::default(),
            tasks: Vec::new(),
            sequential: false,
            on_start: None,
            on_start_error_stops: true,
            on_stop: None,
            new: Arc::new(new),
            arrivals: None,
        }
    }

    /// Its share of the swarm relative to other weighted types (Locust's `weight`).
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Exactly this many users, dispatched before the weighted types (Locust's `fixed_count`).
    pub fn fixed_count(mut self, count: u64) -> Self {
        self.fixed_count = Some(count);
        self
    }

    /// How long a user waits between tasks (Locust's `wait_time`); by default none.
    pub fn wait_time(mut self, wait: WaitTime) -> Self {
        self.wait_time = wait;
        self
    }

    /// Adds a task: `.task(task!(3, Shopper::browse))` is Locust's `@task(3)`.
    pub fn task(mut self, task: Task<U>) -> Self {
        self.tasks.push(task);
        self
    }

    /// Runs the tasks in the order added, over and over, instead of picking by weight
    /// (Locust's `SequentialTaskSet`).
    pub fn sequential(mut self) -> Self {
        self.sequential = true;
        self
    }

    /// Open workload: new users arrive at `per_sec` whatever the response times; each runs
    /// `on_start`, one task (every task in order if sequential), `on_stop`, and leaves.
    /// Such a type takes no part in `-u`, and a stalling server cannot slow its arrivals
    /// down (no coordinated omission).
    pub fn arrival_rate(mut self, per_sec: f64) -> Self {
        self.arrivals = Some(Arrivals::constant(per_sec));
        self
    }

    /// Open workload with a linear ramp from `from` to `to` arrivals per second over `over`,
    /// then `to` for the rest of the test.
    pub fn arrival_ramp(mut self, from: f64, to: f64, over: Duration) -> Self {
        self.arrivals = Some(Arrivals::ramp(from, to, over));
        self
    }

    /// For an open-model type: at most `n` of its users at once (default 10,000); arrivals
    /// beyond are dropped and reported in the exceptions table.
    pub fn max_users(mut self, n: u64) -> Self {
        let mut a = self
            .arrivals
            .take()
            .unwrap_or_else(|| Arrivals::constant(0.0));
        a.max_users = n;
        self.arrivals = Some(a);
        self
    }

    /// Runs once when a user starts, before its first task.
    ///
    /// An error from it stops that user, as an exception in Locust's `on_start` does: a
    /// user whose login failed would otherwise run its tasks logged out and fill the
    /// failures table with misleading rows. The error is logged, counted in the exceptions
    /// with its cause and passed to [`Plan::on_user_error`](crate::Plan::on_user_error);
    /// `on_stop` does not run for it (`TaskError::StopUser` from `on_start` does run it, as in
    /// Locust). [`keep_going_after_on_start_error`](Self::keep_going_after_on_start_error)
    /// opts out.
    pub fn on_start(mut self, f: impl TaskFn<U>) -> Self {
        self.on_start = Some(Arc::new(f));
        self
    }

    /// Lets a user whose `on_start` failed go on to its tasks (the error is still counted
    /// and passed to the hook): for an `on_start` that only warms a cache, say.
    pub fn keep_going_after_on_start_error(mut self) -> Self {
        self.on_start_error_stops = false;
        self
    }

    /// Runs once when a user is stopped gracefully.
    pub fn on_stop(mut self, f: impl TaskFn<U>) -> Self {
        self.on_stop = Some(Arc::new(f));
        self
    }
}

/// A task as the runner and reports see it, without the user's state type.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskInfo {
    /// The task's name (its function's).
    pub name: String,
    /// Its weight among the type's tasks.
    pub weight: u32,
    /// Its tags (`--tags`, `--exclude-tags`).
    pub tags: Vec<String>,
}

/// A user type as the runner and reports see it.
#[derive(Clone, Debug, PartialEq)]
pub struct UserTypeInfo {
    /// The type's name (Locust's class name).
    pub name: String,
    /// Its weight among the types.
    pub weight: u32,
    /// A fixed number of users instead of a weight (Locust's `fixed_count`).
    pub fixed_count: Option<u64>,
    /// Its tasks.
    pub tasks: Vec<TaskInfo>,
    /// Whether its tasks run in order (Locust's `SequentialTaskSet`).
    pub sequential: bool,
    /// Set for open-model types.
    pub arrivals: Option<Arrivals>,
}

impl<U> UserType<U> {
    pub(crate) fn info(&self) -> UserTypeInfo {
        UserTypeInfo {
            name: self.name.to_string(),
            weight: self.weight,
            fixed_count: self.fixed_count,
            tasks: self
                .tasks
                .iter()
                .map(|t| TaskInfo {
                    name: t.name.to_string(),
                    weight: t.weight,
                    tags: t.tags.clone(),
                })
                .collect(),
            sequential: self.sequential,
            arrivals: self.arrivals.clone(),
        }
    }
}
