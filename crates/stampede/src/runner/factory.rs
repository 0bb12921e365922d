//! Making users: the one place a user's context is built and its life spawned, for the
//! closed-model ramp and the open-model arrivals alike.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::task::JoinHandle;
use url::Url;

use super::life::{ErasedUserType, UserControl};
use crate::client::ClientConfig;
use crate::stats::{StatsHandle, UserCounts};
use crate::user::UserContext;

pub(crate) struct UserFactory {
    pub types: Vec<Arc<dyn ErasedUserType>>,
    /// Enabled task indexes per type, after tag filters.
    pub enabled: Vec<Arc<[usize]>>,
    pub host: Url,
    pub client_config: ClientConfig,
    pub stats: StatsHandle,
    /// Shared so ids stay unique when the factory is rebuilt for a new host.
    pub next_id: Arc<AtomicU64>,
}

impl UserFactory {
    /// Starts one user of type `type_idx` on its own task.
    pub fn spawn(&self, type_idx: usize, ctl: UserControl) -> JoinHandle<()> {
        tokio::spawn(self.life(type_idx, ctl, None))
    }

    /// The whole life of one user of type `type_idx`, counted in the live user counts;
    /// `intended` is when an open-model arrival should have started.
    pub fn life(
        &self,
        type_idx: usize,
        ctl: UserControl,
        intended: Option<tokio::time::Instant>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let ut = self.types[type_idx].clone();
        let ctx = UserContext {
            host: self.host.clone(),
            client_config: self.client_config.clone(),
            recorder: self.stats.recorder(),
            user_id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user_type: ut.info().name.as_str().into(),
            intended,
            stop: ctl.stop.clone(),
        };
        let life = ut.live(ctx, ctl, self.enabled[type_idx].clone());
        let counts = self.stats.users.clone();
        counts.add(type_idx, 1);
        async move {
            // Decrements the count however the user ends, even if its task is aborted.
            let _guard = CountGuard { counts, type_idx };
            life.await;
        }
    }
}

struct CountGuard {
    counts: Arc<UserCounts>,
    type_idx: usize,
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.counts.add(self.type_idx, -1);
    }
}
