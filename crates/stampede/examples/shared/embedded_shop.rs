//! Shared by the workshop's examples: with no `--host`, start the Hoodie Shop in this
//! process on a free loopback port and aim the swarm at it.

use std::path::{Path, PathBuf};

use stampede::Options;

/// Keeps the embedded shop (and its temporary database) alive for the run.
pub struct EmbeddedShop {
    pub shop: hoodie_shop::ShopHandle,
    _dir: Option<tempfile::TempDir>,
}

/// Starts the shop when `--host` is absent and sets the host to it. `db` keeps the
/// database at that path instead of a temporary one.
pub async fn ensure_host(
    options: &mut Options,
    db: Option<&Path>,
) -> Result<Option<EmbeddedShop>, String> {
    // A worker gets its host from the master; `--list` and friends need no shop.
    if options.host.is_some()
        || options.worker
        || options.master
        || options.list
        || options.print_locustfile
    {
        return Ok(None);
    }
    let (dir, path): (Option<tempfile::TempDir>, PathBuf) = match db {
        Some(p) => (None, p.to_owned()),
        None => {
            let dir = tempfile::tempdir()
                .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
            let path = dir.path().join("hoodie-shop.db");
            (Some(dir), path)
        }
    };
    let addr = "127.0.0.1:0".parse().expect("a valid socket address");
    let shop = hoodie_shop::start(addr, &path)
        .await
        .map_err(|e| e.to_string())?;
    let url = shop.url();
    eprintln!(
        "No --host given: started the embedded Hoodie Shop at {url} (database {})",
        path.display()
    );
    options.host = Some(url.parse().map_err(|e| format!("{url}: {e}"))?);
    Ok(Some(EmbeddedShop { shop, _dir: dir }))
}

impl EmbeddedShop {
    /// Prints what the shop's database holds, to compare with the client's counts.
    pub fn report(&self) {
        match self.shop.counts() {
            Ok((users, orders)) => {
                eprintln!("Embedded Hoodie Shop database: {users} users, {orders} orders")
            }
            Err(e) => eprintln!("Embedded Hoodie Shop database unreadable: {e}"),
        }
    }
}
