//! Turning a panicking task into an entry in the exceptions table.
//!
//! A panic inside a task is caught at the task's edge; the user records it and goes on with
//! its next task. The panic hook notes where the panic happened (and keeps it off stderr)
//! only while a task is being polled on this thread, so panics elsewhere print as usual.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_TASK.with(Cell::get) {
                let place = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                LAST_PANIC.with(|p| *p.borrow_mut() = place);
            } else {
                previous(info);
            }
        }));
    });
}

/// A caught panic: its message and where it happened.
#[derive(Debug)]
pub(crate) struct Panicked {
    pub message: String,
    pub location: Option<String>,
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    install_hook();
    IN_TASK.with(|c| c.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_TASK.with(|c| c.set(false));
    result.map_err(|payload| Panicked {
        message: payload_message(payload.as_ref()),
        location: LAST_PANIC.with(|p| p.borrow_mut().take()),
    })
}

/// Runs a synchronous function (a user's constructor), catching a panic.
pub(crate) fn catch_sync<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    guarded(f)
}

/// Wraps a boxed future so that a panic while polling it becomes an `Err`.
pub(crate) struct CatchPanic<F>(pub F);

impl<F: Future + Unpin> Future for CatchPanic<F> {
    type Output = Result<F::Output, Panicked>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match guarded(|| Pin::new(inner).poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}
