//! The shop inside a load test's own process: what the workshop's plans aim at when no
//! `--host` is given, so that one command runs the funnel on a fresh machine.

use std::future::Future;
use std::path::PathBuf;

use crate::{ShopError, ShopHandle};

/// The plan option of the workshop's examples: `--shop-db PATH`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ShopOptions {
    /// With no --host: keep the embedded shop's database here instead of a temporary file.
    #[arg(long, value_name = "PATH")]
    pub shop_db: Option<PathBuf>,
}

/// A shop started for one run, with its temporary database. Dropped at the end of the
/// run, it says what the database holds (to set against the client's counts), and stops.
pub struct EmbeddedShop {
    shop: ShopHandle,
    _dir: Option<tempfile::TempDir>,
}

impl ShopOptions {
    /// Starts the shop on a free loopback port; returns its URL and the shop. Made for
    /// `stampede::App::default_host(ShopOptions::start)`.
    pub fn start(
        &self,
    ) -> impl Future<Output = Result<(String, EmbeddedShop), ShopError>> + Send + 'static {
        let db = self.shop_db.clone();
        async move {
            let (dir, path) = match db {
                Some(p) => (None, p),
                None => {
                    let dir = tempfile::tempdir().map_err(ShopError::TempDir)?;
                    let path = dir.path().join("hoodie-shop.db");
                    (Some(dir), path)
                }
            };
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let shop = crate::start(addr, &path).await?;
            let url = shop.url();
            eprintln!(
                "No --host given: started the embedded Hoodie Shop at {url} (database {})",
                path.display()
            );
            Ok((url, EmbeddedShop { shop, _dir: dir }))
        }
    }
}

impl Drop for EmbeddedShop {
    fn drop(&mut self) {
        match self.shop.counts() {
            Ok((users, orders)) => {
                eprintln!("Embedded Hoodie Shop database: {users} users, {orders} orders");
            }
            Err(e) => eprintln!("Embedded Hoodie Shop database unreadable: {e}"),
        }
    }
}
