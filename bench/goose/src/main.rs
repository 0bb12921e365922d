//! The peers' side of bench/run, written for Goose: `Get` is one GET task with no wait
//! (throughput); `Idle` makes one request and then idles, holding its connection (memory).
use goose::prelude::*;
use std::time::Duration;

async fn get_root(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/").await?;
    Ok(())
}

/// One request to 127.0.0.(1 + n % 8), then an hour of rest.
async fn touch_then_idle(user: &mut GooseUser) -> TransactionResult {
    let port = user.base_url.port().unwrap_or(80);
    let url = format!("http://127.0.0.{}:{port}/", 1 + user.weighted_users_index % 8);
    let _ = user.get(&url).await?;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    GooseAttack::initialize()?
        .register_scenario(scenario!("Get").register_transaction(transaction!(get_root)))
        .register_scenario(scenario!("Idle").register_transaction(transaction!(touch_then_idle)))
        .execute()
        .await?;
    Ok(())
}
