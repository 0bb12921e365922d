//! Configuration: the command line, `stampede.conf` and `STAMPEDE_*` variables, parsed once
//! into typed values.

mod cli;
mod file;
mod run_settings;

pub use crate::values::{parse_duration, parse_host, redacted_host, WebAuth};
pub use cli::{Cli, NoOptions, Options};
pub use file::expand_config_file;
