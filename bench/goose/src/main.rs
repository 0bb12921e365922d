//! One GET task, no wait: the throughput case of bench/run, written for Goose.
use goose::prelude::*;

async fn get_root(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    GooseAttack::initialize()?
        .register_scenario(scenario!("Get").register_transaction(transaction!(get_root)))
        .execute()
        .await?;
    Ok(())
}
