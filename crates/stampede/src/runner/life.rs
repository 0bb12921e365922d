//! One simulated user's life: build its state, `on_start`, tasks and waits until told to
//! stop, then `on_stop`.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use super::panics::{catch_sync, CatchPanic, Panicked};
use crate::stats::{Event, Recorder};
use crate::task::{TaskError, TaskFn, TaskResult};
use crate::user::{UserContext, UserType, UserTypeInfo};

/// How the runner tells a user to end.
#[derive(Clone, Debug)]
pub struct UserControl {
    /// Cancelled when the user is to finish its current task, run `on_stop`, and end.
    pub stop: CancellationToken,
    /// An open-model arrival: one pass over the tasks, no waits, then leave.
    pub once: bool,
}

/// A user type with its state type erased, so the runner can hold a list of them: the
/// seam through which any front plugs its users into the runner.
///
/// [`UserType`] implements it for plans in Rust. Another front (a Python one, running a
/// locustfile's classes) implements it for users whose body is foreign code: the runner
/// spawns, counts, stops and distributes them like any other, and the front's users make
/// their requests through [`UserContext::client`], so they are timed, counted and capped
/// as every request is. Add one to a plan with
/// [`Plan::erased_user_type`](crate::Plan::erased_user_type).
///
/// A user's life must end soon after [`UserControl::stop`] is cancelled (after its
/// current task and its `on_stop`); the runner aborts it when `--stop-timeout` runs out.
pub trait ErasedUserType: Send + Sync {
    /// The name, weight and tasks, as reports and the UI show them.
    fn info(&self) -> &UserTypeInfo;
    /// The whole life of one user; `enabled` lists the indexes into `info().tasks` that
    /// `--tags` and `--exclude-tags` left.
    fn live(
        &self,
        ctx: UserContext,
        ctl: UserControl,
        enabled: Arc<[usize]>,
    ) -> BoxFuture<'static, ()>;

    /// How long past `--stop-timeout` a user of this type may take to end once told to
    /// stop, before it is aborted. Rust users get none. A locustfile's users end as
    /// Locust's do, killed and then running their `on_stop` (a logout, say), and the front
    /// needs its requests to go out.
    fn stop_grace(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

pub(crate) struct Erased<U> {
    pub inner: Arc<UserType<U>>,
    pub info: UserTypeInfo,
}

impl<U: Send + 'static> ErasedUserType for Erased<U> {
    fn info(&self) -> &UserTypeInfo {
        &self.info
    }
    fn live(
        &self,
        ctx: UserContext,
        ctl: UserControl,
        enabled: Arc<[usize]>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(live(self.inner.clone(), ctx, ctl, enabled))
    }
}

/// What the user does after a task.
enum Next {
    Wait,
    NoWait,
    Stop,
}

async fn live<U: Send + 'static>(
    ut: Arc<UserType<U>>,
    ctx: UserContext,
    ctl: UserControl,
    enabled: Arc<[usize]>,
) {
    let recorder = ctx.recorder.clone();
    if let (true, crate::wait::WaitTime::ConstantPacing(every)) =
        (ctx.client_config.correct_omission, &ut.wait_time)
    {
        recorder.set_pacing(*every);
    }
    let mut user = match catch_sync(|| (ut.new)(&ctx)) {
        Ok(u) => u,
        Err(p) => {
            record_panic(&recorder, &ut.name, "new", p);
            recorder.flush();
            return;
        }
    };
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    let scale = ctx.client_config.wait_scale;
    let wait_time = if scale == 1.0 {
        ut.wait_time.clone()
    } else {
        ut.wait_time.scaled(scale)
    };
    let weights: Vec<u32> = enabled.iter().map(|&i| ut.tasks[i].weight).collect();
    let mut next_in_sequence = 0usize;

    let mut stopped_by_task = false;
    if let Some(on_start) = &ut.on_start {
        let who = (&*ut.name, ut.on_start_error_stops);
        match start(on_start.as_ref(), &mut user, &recorder, &ctx, who).await {
            Started::Go => {}
            Started::StopUser => stopped_by_task = true,
            Started::Failed if ut.on_start_error_stops => {
                // Locust re-raises: the user ends here, without `on_stop`.
                recorder.flush();
                return;
            }
            Started::Failed => {}
        }
    }
    let passes = if ut.sequential { enabled.len() } else { 1 };
    let mut runs = 0usize;
    while !stopped_by_task
        && !ctl.stop.is_cancelled()
        && !enabled.is_empty()
        && (!ctl.once || runs < passes)
    {
        runs += 1;
        let idx = if ut.sequential {
            let i = enabled[next_in_sequence % enabled.len()];
            next_in_sequence += 1;
            i
        } else {
            enabled[pick(&weights, &mut rng)]
        };
        let task = &ut.tasks[idx];
        let started = Instant::now();
        let next = run_task(
            task.run.as_ref(),
            &mut user,
            &recorder,
            &ut.name,
            &task.name,
        )
        .await;
        recorder.record(Event::TaskRun {
            user_type: ut.name.clone(),
            task: task.name.clone(),
        });
        match next {
            Next::Stop => stopped_by_task = true,
            Next::NoWait => tokio::task::yield_now().await,
            Next::Wait if ctl.once => {}
            Next::Wait => {
                let wait = wait_time.next(started.elapsed(), &mut rng);
                if wait.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    // Waiting is when a user is idle: send what it recorded so live stats are fresh.
                    recorder.flush();
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = ctl.stop.cancelled() => {}
                    }
                }
            }
        }
    }
    if let Some(on_stop) = &ut.on_stop {
        run_task(on_stop.as_ref(), &mut user, &recorder, &ut.name, "on_stop").await;
    }
    recorder.flush();
}

/// How a user's `on_start` ended.
enum Started {
    Go,
    /// `TaskError::StopUser`: the user ends, through `on_stop`.
    StopUser,
    /// An error or a panic: logged, counted, passed to the user-error hooks.
    Failed,
}

/// Runs `on_start`. A failure of any kind (a failed request included: a login that failed
/// is the case this is for) is logged, counted in the exceptions with its cause and passed
/// to the plan's `on_user_error` hooks, as Locust fires `user_error`.
async fn start<U: Send + 'static>(
    f: &dyn TaskFn<U>,
    user: &mut U,
    recorder: &Recorder,
    ctx: &UserContext,
    (user_type, stops): (&str, bool),
) -> Started {
    let outcome: Result<TaskResult, Panicked> = CatchPanic(f.call(user)).await;
    let (message, place) = match outcome {
        Ok(Ok(())) => return Started::Go,
        // Locust has no task to reschedule yet: its RescheduleTask is an exception here.
        Ok(Err(TaskError::Reschedule)) => (
            "on_start failed: RescheduleTask raised in on_start".to_owned(),
            String::new(),
        ),
        Ok(Err(TaskError::StopUser)) => return Started::StopUser,
        Ok(Err(TaskError::Request(e))) => (
            format!("on_start failed: {} {}: {}", e.method, e.name, e.reason),
            String::new(),
        ),
        Ok(Err(TaskError::Failed { message, location })) => (
            format!("on_start failed: {message}"),
            format!(
                " at {}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            ),
        ),
        Err(p) => (
            format!("on_start failed: panic: {}", p.message),
            p.location.map(|l| format!(" at {l}")).unwrap_or_default(),
        ),
    };
    let then = if stops {
        "the user stops"
    } else {
        "the user goes on (keep_going_after_on_start_error)"
    };
    tracing::error!("{user_type}: {message}; {then}");
    recorder.record(Event::Exception {
        message: message.clone(),
        location: format!("{user_type}.on_start{place}"),
    });
    let error = crate::client::UserError {
        user_type,
        task: "on_start",
        message: &message,
    };
    for hook in &ctx.client_config.user_error {
        hook(&error);
    }
    Started::Failed
}

/// Index into `weights`, picked with probability proportional to the weight.
fn pick(weights: &[u32], rng: &mut SmallRng) -> usize {
    let total: u64 = weights.iter().map(|w| *w as u64).sum();
    if total == 0 {
        return rng.random_range(0..weights.len());
    }
    let mut r = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if r < *w as u64 {
            return i;
        }
        r -= *w as u64;
    }
    weights.len() - 1
}

/// Runs one task, recording an error or panic; the user goes on either way.
async fn run_task<U: Send + 'static>(
    f: &dyn TaskFn<U>,
    user: &mut U,
    recorder: &Recorder,
    user_type: &str,
    task: &str,
) -> Next {
    let outcome: Result<TaskResult, Panicked> = CatchPanic(f.call(user)).await;
    match outcome {
        Ok(Ok(()) | Err(TaskError::Request(_))) => Next::Wait,
        Ok(Err(TaskError::Reschedule)) => Next::NoWait,
        Ok(Err(TaskError::StopUser)) => Next::Stop,
        Ok(Err(TaskError::Failed { message, location })) => {
            recorder.record(Event::Exception {
                message,
                location: format!(
                    "{user_type}.{task} at {}:{}:{}",
                    location.file(),
                    location.line(),
                    location.column()
                ),
            });
            Next::Wait
        }
        Err(p) => {
            record_panic(recorder, user_type, task, p);
            Next::Wait
        }
    }
}

fn record_panic(recorder: &Recorder, user_type: &str, task: &str, p: Panicked) {
    let place = p.location.map(|l| format!(" at {l}")).unwrap_or_default();
    recorder.record(Event::Exception {
        message: format!("panic: {}", p.message),
        location: format!("{user_type}.{task}{place}"),
    });
}
