//! Tasks: the async functions a user runs, and what they may return.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::client::{Client, RequestBuilder, RequestError, Response};

/// What a task returns: `TaskResult` for most, or `TaskResult<Response>` for a task that
/// ends with a request (`self.client.get("/").await` as its last line).
pub type TaskResult<T = ()> = Result<T, TaskError>;

/// A running task borrowing its user: the task's own future, boxed as it is, whatever its
/// output type (`()`, `TaskResult`, `TaskResult<Response>`), converted when it is ready.
///
/// Not a wrapping future: a task's future holds its requests' state (kilobytes), and each
/// wrapper around it copies that once more per task (callgrind on the `hello` plan: an
/// `async move` wrapper cost 11k instructions of memcpy per request, `map` 600).
pub struct TaskFuture<'a>(Pin<Box<dyn RunningTask + Send + 'a>>);

impl Future for TaskFuture<'_> {
    type Output = TaskResult;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskResult> {
        self.0.as_mut().poll_task(cx)
    }
}

/// A task's future with its output made a [`TaskResult`] as it is polled.
trait RunningTask {
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskResult>;
}

impl<F> RunningTask for F
where
    F: Future<Output: IntoTaskResult>,
{
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskResult> {
        self.poll(cx).map(IntoTaskResult::into_task_result)
    }
}

/// Why a task ended early.
///
/// `?` converts any error into it, remembering where the `?` was, so the exceptions table
/// can say where a task failed. A [`RequestError`] is special: the failed request is already
/// in the statistics, so it ends the task without an exception entry.
#[derive(Debug)]
pub enum TaskError {
    /// A request failed (already counted as a failure).
    Request(RequestError),
    /// Stop this user for good (Locust's `StopUser`); `on_stop` still runs.
    StopUser,
    /// Abandon this task and pick the next one at once, without waiting (Locust's
    /// `RescheduleTask`).
    Reschedule,
    /// Anything else: counted in the exceptions table.
    Failed {
        /// What went wrong (the error's `Display`).
        message: String,
        /// Where the `?` (or `TaskError::msg`) was: file, line and column.
        location: &'static Location<'static>,
    },
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for TaskError {
    #[track_caller]
    fn from(e: E) -> Self {
        let boxed: Box<dyn std::error::Error + Send + Sync> = e.into();
        match boxed.downcast::<RequestError>() {
            Ok(r) => TaskError::Request(*r),
            Err(other) => TaskError::Failed {
                message: other.to_string(),
                location: Location::caller(),
            },
        }
    }
}

impl TaskError {
    /// A failure with a message, recorded where it was made.
    #[track_caller]
    pub fn msg(message: impl Into<String>) -> Self {
        TaskError::Failed {
            message: message.into(),
            location: Location::caller(),
        }
    }
}

/// What a task may return: nothing, or a result whose error converts into a
/// [`TaskError`] (`TaskResult`, or a request's own `Result<Response, RequestError>`).
///
/// A task that ends with `?` keeps the place of a failure for the exceptions table; an
/// error returned as the tail value is recorded without it.
#[diagnostic::on_unimplemented(
    message = "a task must return `()` or a `Result`, not `{Self}`",
    label = "this task returns `{Self}`",
    note = "end the task with `Ok(())` and declare `-> TaskResult`, or return nothing"
)]
pub trait IntoTaskResult {
    /// The value as a task's result.
    fn into_task_result(self) -> TaskResult;
}

impl IntoTaskResult for () {
    fn into_task_result(self) -> TaskResult {
        Ok(())
    }
}

impl<T, E> IntoTaskResult for Result<T, E>
where
    TaskError: From<E>,
{
    fn into_task_result(self) -> TaskResult {
        self.map(drop).map_err(TaskError::from)
    }
}

/// Something a user can run: implemented for every `async fn(&mut U)` returning `()` or a
/// result, methods included (`Visitor::search`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task of a user of type `{U}`",
    label = "not an `async fn(&mut {U})`",
    note = "a task is an `async fn` taking `&mut self` of the user's own type: `async fn search(&mut self) -> TaskResult`",
    note = "check that the function is `async`, takes `&mut self` (not `&self`), and belongs to the type `UserType::new` builds"
)]
pub trait TaskFn<U>: Send + Sync + 'static {
    /// Runs the task on `user`.
    fn call<'a>(&self, user: &'a mut U) -> TaskFuture<'a>;
}

/// Names the future an async function returns for a borrow of lifetime `'a`; the usual
/// way to accept `async fn(&mut U)` items, whose futures borrow their argument.
pub trait AsyncUserFn<'a, U: 'a>: Fn(&'a mut U) -> Self::Fut {
    /// The future the function returns.
    type Fut: Future<Output: IntoTaskResult> + Send + 'a;
}

impl<'a, U: 'a, F, Fut> AsyncUserFn<'a, U> for F
where
    F: Fn(&'a mut U) -> Fut,
    Fut: Future<Output: IntoTaskResult> + Send + 'a,
{
    type Fut = Fut;
}

impl<U, F> TaskFn<U> for F
where
    F: for<'a> AsyncUserFn<'a, U> + Send + Sync + 'static,
{
    fn call<'a>(&self, user: &'a mut U) -> TaskFuture<'a> {
        TaskFuture(Box::pin(self(user)))
    }
}

/// A task with its weight and tags (Locust's `@task(weight)` and `@tag`).
pub struct Task<U> {
    pub(crate) name: Arc<str>,
    pub(crate) weight: u32,
    pub(crate) tags: Vec<String>,
    pub(crate) run: Arc<dyn TaskFn<U>>,
}

impl<U> Clone for Task<U> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            weight: self.weight,
            tags: self.tags.clone(),
            run: self.run.clone(),
        }
    }
}

impl<U: 'static> Task<U> {
    /// A task of weight 1. The [`task!`](crate::task) macro names it after the function.
    pub fn new(name: &str, run: impl TaskFn<U>) -> Self {
        Self {
            name: name.into(),
            weight: 1,
            tags: Vec::new(),
            run: Arc::new(run),
        }
    }

    /// How often it is picked relative to the user's other tasks.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Adds a tag, for `--tags` / `--exclude-tags`.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_owned());
        self
    }

    /// The task's name, as reports and tags show it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A [`Task`] named after its function: `task!(47, Visitor::search)` is
/// `@task(47) def search(self)`.
#[macro_export]
macro_rules! task {
    ($weight:expr, $($path:ident)::+) => {
        $crate::Task::new($crate::__last_ident!($($path)::+), $($path)::+).weight($weight)
    };
    ($($path:ident)::+) => {
        $crate::Task::new($crate::__last_ident!($($path)::+), $($path)::+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __last_ident {
    ($last:ident) => { stringify!($last) };
    ($first:ident :: $($rest:ident)::+) => { $crate::__last_ident!($($rest)::+) };
}

/// `client.get("/").await?` sends the request, as [`RequestBuilder::send`] does, with the
/// error a task returns, so a task may also end with a request:
/// `async fn home(&mut self) -> TaskResult<Response> { self.client.get("/").await }`.
/// (`.send()` keeps the [`RequestError`] type.) The future is boxed, one allocation per
/// request; `.send()` has none.
impl<'c> std::future::IntoFuture for RequestBuilder<'c> {
    type Output = TaskResult<Response>;
    type IntoFuture =
        std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send + 'c>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { Ok(self.send().await?) })
    }
}

/// Pauses in a task, with the task's error: here rather than in the client, which sits
/// below tasks and knows nothing of them.
impl Client {
    /// Pauses the task for `secs` seconds times `--wait-scale` (0 runs flat out).
    ///
    /// When the run stops before or during the pause, it returns
    /// `Err(TaskError::StopUser)`: with `?` the rest of the task's requests are not sent,
    /// and the user's `on_stop` runs, as in Locust.
    ///
    /// ```no_run
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.get("/checkout/").await?;
    /// client.think(30.0).await?; // filling in the address form
    /// client.post("/checkout/shipping-address/").await?;
    /// # Ok(()) }
    /// ```
    pub async fn think(&self, secs: f64) -> Result<(), TaskError> {
        self.pause(secs).await.map_err(|_| TaskError::StopUser)
    }
}
