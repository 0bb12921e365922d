//! `stampede._core`: Stampede's engine for the Python front (`stampede -f locustfile.py`).
//!
//! Python owns the main thread and gevent's hub, and runs each user's own loop in a
//! greenlet, as Locust does. This module gives it the engine: a run on tokio threads whose
//! users are the locustfile's classes ([`user::PyUserType`], plugged into the runner
//! through Stampede's one seam for foreign users), a handle per user to send requests
//! through Stampede's client, and a socket the hub watches for the answers ([`wake`]).
//! See `docs/design/python-front.md`.

use pyo3::prelude::*;

mod engine;
mod handle;
mod msg;
mod relay;
mod shape;
mod user;
mod value;
pub mod wake;

/// The Python module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::Engine>()?;
    m.add_class::<engine::Raw>()?;
    m.add_class::<handle::UserHandle>()?;
    m.add_function(wrap_pyfunction!(parse_options, m)?)?;
    m.add("ENGINE_VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// Parses Stampede's command line (program name first) as a run would: `(0, "", values)`
/// when it is valid, else `(exit code, message, [])` (`--help` is code 0 with its text).
/// `values` lists each option's id with its values as text, defaults included: what
/// Python shows as Locust's `environment.parsed_options`. There is one parser, clap's.
#[pyfunction]
fn parse_options(argv: Vec<String>) -> (i32, String, Vec<(String, Vec<String>)>) {
    use stampede::advanced::config::{expand_config_file, Cli, NoOptions};
    use stampede::clap::CommandFactory;
    if let Err(u) = stampede::advanced::try_parse_args::<NoOptions>(argv.clone()) {
        return (u.code, u.message, Vec::new());
    }
    let command = Cli::<NoOptions>::command();
    // The config files' options, as the run itself reads them.
    let argv = expand_config_file(argv.clone(), &command).unwrap_or(argv);
    let Ok(matches) = command.clone().try_get_matches_from(argv) else {
        return (0, String::new(), Vec::new());
    };
    let mut values = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if let Ok(Some(raw)) = matches.try_get_raw(id) {
            let v = raw.map(|s| s.to_string_lossy().into_owned()).collect();
            values.push((id.to_owned(), v));
        }
    }
    (0, String::new(), values)
}
