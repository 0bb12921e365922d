//! General purpose helpers for async runtime cross-compatibility

pub mod task;

extern crate tokio;
pub use tokio::{main, test};
