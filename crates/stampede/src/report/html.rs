//! The self-contained HTML report: the UI's own page and script, with the run's data
//! embedded instead of fetched, so it shows the same tables, charts and funnel offline.

use serde_json::{json, Value};

use crate::stats::HistoryPoint;

/// A report page for `report` (Stampede's report JSON) and the run's history.
pub fn render(report: &Value, history: &[HistoryPoint]) -> String {
    let data = json!({
        "report": report,
        "history": history.iter().map(crate::web::history_point_json).collect::<Vec<_>>(),
    });
    // `</` inside a script element would end it early; `<\/` is the same JSON string.
    let data = data
        .to_string()
        .replace("</", "<\\/")
        .replace("<!--", "<\\!--");
    let page = crate::web::INDEX_HTML
        .replace("<link rel=\"stylesheet\" href=\"/assets/app.css\">", &format!("<style>\n{}\n</style>", crate::web::APP_CSS))
        .replace(
            "<script src=\"/assets/app.js\"></script>",
            &format!("<script id=\"report-data\" type=\"application/json\">{data}</script>\n<script>\n{}\n</script>", crate::web::APP_JS.replace("</script", "<\\/script")),
        );
    page
}
