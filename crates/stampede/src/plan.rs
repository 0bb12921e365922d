//! A plan: the user types of a load test, its funnel and its hooks.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::client::{RequestEvent, RequestListener};
use crate::funnel::FunnelName;
use crate::runner::{Erased, ErasedUserType};
use crate::shape::LoadShape;
use crate::user::{UserType, UserTypeInfo};

type Hook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// Everything a plan declares.
#[derive(Default, Clone)]
pub struct Plan {
    pub(crate) types: Vec<Arc<dyn ErasedUserType>>,
    pub(crate) funnel: Vec<String>,
    pub(crate) on_test_start: Vec<Hook>,
    pub(crate) on_test_stop: Vec<Hook>,
    pub(crate) on_request: Vec<RequestListener>,
    pub(crate) on_user_error: Vec<crate::client::UserErrorListener>,
    pub(crate) on_milestone: Vec<MilestoneListener>,
    pub(crate) on_outside_users: Vec<OutsideUsersListener>,
    pub(crate) shape: Option<Arc<dyn LoadShape>>,
    /// The test's own traffic between master and workers, when a front carries it.
    pub(crate) relay: Option<crate::relay::Relay>,
    /// Mistakes in the plan's declarations, reported when a run starts.
    pub(crate) problems: Vec<String>,
}

/// Given a context for requests outside any user ([`Plan::on_outside_users`]).
type OutsideUsersListener = Arc<dyn Fn(crate::user::UserContext) + Send + Sync>;

/// An observer of a test's milestones ([`Plan::on_milestone`]).
type MilestoneListener = Arc<dyn Fn(&crate::milestone::Milestone) + Send + Sync>;

/// A user type or tag named on the command line that the plan does not have.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectionError {
    #[error("unknown user type '{name}'; this plan has: {known}")]
    /// `--user-types` (or the UI) named a type the plan does not have.
    UnknownUserType {
        /// The name asked for.
        name: String,
        /// The plan's user types, listed.
        known: String,
    },
    #[error("unknown tag '{name}'; the plan's tasks are tagged: {known}")]
    /// `--tags` or `--exclude-tags` named a tag no task carries.
    UnknownTag {
        /// The tag asked for.
        name: String,
        /// The tags the plan's tasks carry, listed.
        known: String,
    },
    #[error("no tasks are left to run after the tag filters")]
    /// The selection left no task to run.
    NothingToRun,
    /// A setting that can only be checked when the run starts (a `--ca-cert` file).
    #[error("{0}")]
    Config(String),
    /// The plan itself declares something impossible (a funnel step listed twice).
    #[error("the plan is inconsistent: {0}")]
    Plan(String),
}

/// The user types and tasks that take part in a run.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    /// Per plan type: whether it runs.
    pub active: Vec<bool>,
    /// Per plan type: the indexes of its enabled tasks.
    pub enabled: Vec<Arc<[usize]>>,
}

impl Plan {
    /// An empty plan: add user types with [`user_type`](Self::user_type).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user type.
    pub fn user_type<U: Send + 'static>(mut self, ut: UserType<U>) -> Self {
        let info = ut.info();
        self.types.push(Arc::new(Erased {
            inner: Arc::new(ut),
            info,
        }));
        self
    }

    /// Adds a user type of another front, whose users' bodies are not Rust
    /// [`UserType`]s (see [`ErasedUserType`](crate::advanced::ErasedUserType)).
    pub fn erased_user_type(mut self, t: Arc<dyn ErasedUserType>) -> Self {
        self.types.push(t);
        self
    }

    /// Declares the funnel: request names (or [`Step`](crate::Step)s from
    /// [`funnel!`](crate::funnel)) in the order a buyer passes them. The report and the UI
    /// show each step's count and its conversion from the step before. A name listed twice,
    /// or a step out of its declared place, stops the run with an error that names it.
    pub fn funnel<S: FunnelName>(mut self, steps: impl IntoIterator<Item = S>) -> Self {
        let steps: Vec<(String, Option<u32>)> = steps
            .into_iter()
            .map(|s| (s.step_name().to_owned(), s.position()))
            .collect();
        self.problems.extend(crate::funnel::problems(&steps));
        self.funnel = steps.into_iter().map(|(name, _)| name).collect();
        self
    }

    /// Runs before the first user starts.
    pub fn on_test_start<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.on_test_start.push(Arc::new(move || Box::pin(f())));
        self
    }

    /// Runs after the last user stopped, before the reports are written.
    pub fn on_test_stop<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.on_test_stop.push(Arc::new(move || Box::pin(f())));
        self
    }

    /// Drives the user count over time instead of `-u`/`-r` (Locust's `LoadTestShape`).
    pub fn shape(mut self, shape: impl LoadShape + 'static) -> Self {
        self.shape = Some(Arc::new(shape));
        self
    }

    /// Called after every request of every user (Locust's `events.request.add_listener`).
    pub fn on_request(mut self, f: impl Fn(&RequestEvent<'_>) + Send + Sync + 'static) -> Self {
        self.on_request.push(Arc::new(f));
        self
    }

    /// Called when a user's `on_start` fails (Locust's `events.user_error`), with the user
    /// type and what failed; the user then stops (see [`UserType::on_start`]).
    pub fn on_user_error(
        mut self,
        f: impl Fn(&crate::client::UserError<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_user_error.push(Arc::new(f));
        self
    }

    /// Called at each [`Milestone`](crate::milestone::Milestone) of a test: the web UI
    /// listening, a ramp, every user spawned, the end. For a front that reports them in
    /// its own words (the Python front prints Locust's log lines from them).
    pub fn on_milestone(
        mut self,
        f: impl Fn(&crate::milestone::Milestone) + Send + Sync + 'static,
    ) -> Self {
        self.on_milestone.push(Arc::new(f));
        self
    }

    /// Called with a [`UserContext`](crate::UserContext) for requests made outside any user
    /// (Locust's session built by hand in a `test_start` listener), each time the run's
    /// users and stats are set up, before the test starts. Its clients' requests are timed
    /// and counted like users' requests; it is no user and is in no user count. Called on
    /// the engine's runtime: hand the context on and return.
    pub fn on_outside_users(
        mut self,
        f: impl Fn(crate::user::UserContext) + Send + Sync + 'static,
    ) -> Self {
        self.on_outside_users.push(Arc::new(f));
        self
    }

    /// Carries the test's own messages between a master and its workers, and each
    /// worker report's additions ([`Relay`](crate::relay::Relay)); for a front that offers
    /// Locust's `send_message` and `report_to_master`.
    pub fn relay(mut self, relay: crate::relay::Relay) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Tells the observers of [`on_milestone`](Self::on_milestone).
    pub(crate) fn milestone(&self, m: &crate::milestone::Milestone) {
        for f in &self.on_milestone {
            f(m);
        }
    }

    /// The user types' names, weights and tasks, as reports show them.
    pub fn user_types(&self) -> Vec<UserTypeInfo> {
        self.types.iter().map(|t| t.info().clone()).collect()
    }

    /// The funnel's request names, in order (empty without one).
    pub fn funnel_steps(&self) -> &[String] {
        &self.funnel
    }

    /// Applies the command line's user types and tags.
    pub(crate) fn select(
        &self,
        names: &[String],
        tags: &[String],
        exclude: &[String],
    ) -> Result<Selection, SelectionError> {
        if let Some(problem) = self.problems.first() {
            return Err(SelectionError::Plan(problem.clone()));
        }
        let infos = self.user_types();
        for n in names {
            if !infos.iter().any(|t| &t.name == n) {
                let known = infos
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(SelectionError::UnknownUserType {
                    name: n.clone(),
                    known,
                });
            }
        }
        let all_tags: BTreeSet<&str> = infos
            .iter()
            .flat_map(|t| {
                t.tasks
                    .iter()
                    .flat_map(|k| k.tags.iter().map(String::as_str))
            })
            .collect();
        for tag in tags.iter().chain(exclude) {
            if !all_tags.contains(tag.as_str()) {
                let known = if all_tags.is_empty() {
                    "(none)".to_owned()
                } else {
                    all_tags.iter().copied().collect::<Vec<_>>().join(", ")
                };
                return Err(SelectionError::UnknownTag {
                    name: tag.clone(),
                    known,
                });
            }
        }
        let mut active = Vec::new();
        let mut enabled = Vec::new();
        for t in &infos {
            let picked = names.is_empty() || names.contains(&t.name);
            let tasks: Vec<usize> = t
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, k)| tags.is_empty() || k.tags.iter().any(|g| tags.contains(g)))
                .filter(|(_, k)| !k.tags.iter().any(|g| exclude.contains(g)))
                .map(|(i, _)| i)
                .collect();
            let filtered = !(tags.is_empty() && exclude.is_empty());
            active.push(picked && (!tasks.is_empty() || !filtered));
            enabled.push(Arc::from(tasks));
        }
        if !active.iter().any(|a| *a) {
            return Err(SelectionError::NothingToRun);
        }
        Ok(Selection { active, enabled })
    }
}
