//! Hoodie Shop: a small storefront with the routes, forms and CSRF rules of the classic
//! Saleor storefront that the Locust workshop load-tested, on a real SQLite database.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hoodie_shop::ShopError> {
//! let shop = hoodie_shop::start("127.0.0.1:0".parse().unwrap(), "shop.db".as_ref()).await?;
//! println!("shop at http://{}", shop.addr());
//! shop.shutdown().await;
//! # Ok(()) }
//! ```

mod address;
mod api;
mod csrf;
mod db;
mod embedded;
mod form;
mod pages;
mod password;
mod routes;
mod visit;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use address::Address;
pub use db::{Db, DbError};
pub use embedded::{EmbeddedShop, ShopOptions};

/// Why the shop could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("cannot open the database {path}: {source}")]
    Db { path: PathBuf, source: DbError },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot make a temporary directory for the database: {0}")]
    TempDir(std::io::Error),
}

/// Tuning for tests and benchmarks.
#[derive(Clone, Debug)]
pub struct ShopConfig {
    /// PBKDF2 rounds for new passwords; Django 1.11 (Saleor's) used 36,000.
    pub password_iterations: u32,
}

impl Default for ShopConfig {
    fn default() -> Self {
        Self {
            password_iterations: 36_000,
        }
    }
}

/// A running shop.
pub struct ShopHandle {
    addr: SocketAddr,
    db_path: PathBuf,
    state: routes::Shop,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl ShopHandle {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }
    /// Users and orders in the database.
    pub fn counts(&self) -> Result<(i64, i64), DbError> {
        self.state.db.counts()
    }
    /// Stops accepting connections and waits for requests in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts the shop on `addr` with the database at `db` (created and filled if new).
pub async fn start(addr: SocketAddr, db: &Path) -> Result<ShopHandle, ShopError> {
    start_with(addr, db, ShopConfig::default()).await
}

pub async fn start_with(
    addr: SocketAddr,
    db_path: &Path,
    config: ShopConfig,
) -> Result<ShopHandle, ShopError> {
    let db = Db::open(db_path).map_err(|source| ShopError::Db {
        path: db_path.to_owned(),
        source,
    })?;
    let mut secret = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut secret[..]);
    let state = Arc::new(routes::ShopState {
        db,
        sessions: Default::default(),
        secret,
        password_iterations: config.password_iterations,
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ShopError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ShopError::Bind { addr, source })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = routes::router(state.clone());
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!("hoodie shop stopped: {e}");
        }
    });
    Ok(ShopHandle {
        addr: bound,
        db_path: db_path.to_owned(),
        state,
        stop: Some(stop),
        task,
    })
}
