//! The seam another front plugs into: a user type that is not a Rust `UserType` (here a
//! hand-written loop, as a Python front's user would be) run by the same runner, counted,
//! stopped and reported like any other, its requests made through the engine's client.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use stampede::advanced::plan::{TaskInfo, UserTypeInfo};
use stampede::advanced::swarm::SwarmConfig;
use stampede::advanced::{ErasedUserType, UserControl};
use stampede::prelude::*;

/// A user whose body is "foreign": it picks its own tasks (`hello` then `bye`, in turn)
/// and stops when told to.
struct Foreign {
    info: UserTypeInfo,
    lives: Arc<AtomicU64>,
}

impl ErasedUserType for Foreign {
    fn info(&self) -> &UserTypeInfo {
        &self.info
    }
    fn live(
        &self,
        ctx: UserContext,
        ctl: UserControl,
        enabled: Arc<[usize]>,
    ) -> BoxFuture<'static, ()> {
        let lives = self.lives.clone();
        let names: Vec<String> = enabled
            .iter()
            .map(|&i| self.info.tasks[i].name.clone())
            .collect();
        Box::pin(async move {
            lives.fetch_add(1, Ordering::SeqCst);
            let mut client = ctx.client();
            for name in names.iter().cycle() {
                if ctl.stop.is_cancelled() {
                    break;
                }
                let _ = client.get("/").name(name.as_str()).send().await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                    _ = ctl.stop.cancelled() => break,
                }
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_user_type_is_spawned_counted_and_stopped_by_the_runner() {
    let srv = common::start().await;
    let lives = Arc::new(AtomicU64::new(0));
    let task = |name: &str| TaskInfo {
        name: name.into(),
        weight: 1,
        tags: vec![name.into()],
    };
    let foreign = Foreign {
        info: UserTypeInfo {
            name: "Foreign".into(),
            weight: 1,
            fixed_count: None,
            tasks: vec![task("hello"), task("bye")],
            sequential: true,
            arrivals: None,
        },
        lives: lives.clone(),
    };
    let plan = Plan::new().erased_user_type(Arc::new(foreign));
    let mut cfg = SwarmConfig::new(srv.url());
    // Tag filters reach the foreign front as the enabled task list.
    cfg.tags = vec!["hello".into()];
    let swarm = plan.swarm(cfg).unwrap();
    swarm.runner.start(3, 100.0, None);
    for _ in 0..500 {
        if swarm.runner.user_count() == 3 && srv.hits.get("/") >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(swarm.runner.user_count(), 3);
    swarm.runner.stop().await;
    assert_eq!(
        swarm.runner.user_count(),
        0,
        "the foreign users did not end when stopped"
    );
    assert_eq!(lives.load(Ordering::SeqCst), 3);
    let stats = swarm.stats.snapshot().await;
    let hello = &stats.entries[&("hello".to_owned(), "GET".to_owned())];
    assert!(hello.num_requests >= 30);
    assert!(
        !stats
            .entries
            .contains_key(&("bye".to_owned(), "GET".to_owned())),
        "a task the tags left out ran"
    );
    let answered = stats.total.num_requests + stats.total.num_unanswered;
    assert_eq!(srv.hits.settled_at("/", answered).await, answered);
}
