//! A user's pauses inside a task: a person reading a page or filling in a form.
//!
//! A plan's own `tokio::time::sleep` would ignore the run: it goes on sleeping after stop
//! and cannot be shortened for a flat-out CI run. `think` is scaled by `--wait-scale` (as
//! every `wait_time` is) and ends the task when the run stops, as Locust's `StopUser`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Client;

/// The run stopped the user during (or before) a pause.
pub(crate) struct Stopped;

impl Client {
    /// Tells the client when its user is told to stop, so a think ends with it.
    pub(crate) fn set_stop(&mut self, stop: CancellationToken) {
        self.stop = Some(stop);
    }

    /// Pauses for `secs` seconds times `--wait-scale`; `Err(Stopped)` when the run stops
    /// before or during it. (`Client::think`, in `task.rs`, is this with the task's error.)
    pub(crate) async fn pause(&self, secs: f64) -> Result<(), Stopped> {
        let stopped = || self.stop.as_ref().is_some_and(|s| s.is_cancelled());
        if stopped() {
            return Err(Stopped);
        }
        let scaled = secs * self.config.wait_scale;
        if scaled.is_nan() || scaled <= 0.0 {
            return Ok(());
        }
        // Longer than a duration holds (a huge scale): until the stop.
        let pause = Duration::try_from_secs_f64(scaled).unwrap_or(Duration::MAX);
        // A thinking user is idle: what it recorded goes to the live numbers now.
        self.recorder.flush();
        let Some(stop) = &self.stop else {
            tokio::time::sleep(pause).await;
            return Ok(());
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => Ok(()),
            _ = stop.cancelled() => Err(Stopped),
        }
    }
}
