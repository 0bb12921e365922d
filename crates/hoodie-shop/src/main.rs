//! `hoodie-shop --bind 127.0.0.1:8000 --db shop.db`

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// A small storefront with the routes, forms and CSRF rules of the classic Saleor storefront.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    bind: SocketAddr,
    /// SQLite database file (created and filled with the catalog if new).
    #[arg(long, default_value = "hoodie-shop.db")]
    db: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let args = Args::parse();
    let shop = hoodie_shop::start(args.bind, &args.db)
        .await
        .context("starting the Hoodie Shop")?;
    println!(
        "Hoodie Shop at {} (database {})",
        shop.url(),
        args.db.display()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    shop.shutdown().await;
    Ok(())
}
