//! The UI's page, script and style: served by the web UI and embedded whole in the HTML
//! report, so both show the same views. Kept apart from both, so the report does not
//! depend on the web server.

pub(crate) const INDEX_HTML: &str = include_str!("web/assets/index.html");
pub(crate) const APP_JS: &str = include_str!("web/assets/app.js");
pub(crate) const APP_CSS: &str = include_str!("web/assets/app.css");
