//! A locustfile's `LoadTestShape`, as the engine's load shape. Python code never runs on
//! the engine's threads, so the shape is ticked in Python (a greenlet, once a second, as
//! Locust's shape worker does) and its answer kept here, where the engine's own tick
//! (also once a second) reads it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stampede::LoadShape;

/// The latest users and spawn rate the Python shape asked for, or that it has ended.
#[derive(Clone, Default)]
pub struct ShapeCell {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    wanted: Mutex<(u64, f64)>,
    ended: AtomicBool,
}

impl ShapeCell {
    pub fn set(&self, users: u64, rate: f64) {
        *self.inner.wanted.lock().unwrap_or_else(|p| p.into_inner()) = (users, rate);
    }

    pub fn end(&self) {
        self.inner.ended.store(true, Ordering::Release);
    }
}

impl LoadShape for ShapeCell {
    fn tick(&self, _elapsed: Duration) -> Option<(u64, f64)> {
        if self.inner.ended.load(Ordering::Acquire) {
            return None;
        }
        Some(*self.inner.wanted.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_reads_what_python_set_last_until_the_shape_ends() {
        let cell = ShapeCell::default();
        assert_eq!(cell.tick(Duration::ZERO), Some((0, 0.0)));
        cell.set(10, 2.5);
        assert_eq!(cell.tick(Duration::from_secs(1)), Some((10, 2.5)));
        cell.set(3, 1.0);
        assert_eq!(cell.tick(Duration::from_secs(2)), Some((3, 1.0)));
        cell.end();
        assert_eq!(cell.tick(Duration::from_secs(3)), None);
    }
}
