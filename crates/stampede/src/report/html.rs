//! The self-contained HTML report: the UI's own page and script, with the run's data
//! embedded instead of fetched, so it shows the same tables, charts and funnel offline.

use serde_json::{json, Value};

use crate::stats::HistoryPoint;

/// A report page for `report` (Stampede's report JSON) and the run's history.
pub fn render(report: &Value, history: &[HistoryPoint]) -> String {
    let data = json!({
        "report": report,
        "history": history.iter().map(super::json::history_point).collect::<Vec<_>>(),
    });
    // No string may end the script element (`</script>`) or switch the HTML parser into
    // its script-data escape states (`<!--`, `<script>`): `<`, `>` and `&` become JSON's
    // `\u003c` escapes, which only occur inside strings and read back as the same text.
    let data = data
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let page = crate::assets::INDEX_HTML
        .replace("<link rel=\"stylesheet\" href=\"/assets/app.css\">", &format!("<style>\n{}\n</style>", crate::assets::APP_CSS))
        .replace(
            "<script src=\"/assets/app.js\"></script>",
            &format!("<script id=\"report-data\" type=\"application/json\">{data}</script>\n<script>\n{}\n</script>", crate::assets::APP_JS.replace("</script", "<\\/script")),
        );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_string_breaks_out_of_the_embedded_data() {
        let nasty = "redirect to <!-- </script><script>alert(1)</script> & more";
        let page = render(&json!({ "failures": [{ "error": nasty }] }), &[]);
        let start = page
            .find("<script id=\"report-data\" type=\"application/json\">")
            .unwrap();
        let body = &page[start..];
        let body = &body[body.find('>').unwrap() + 1..];
        let data = &body[..body.find("</script>").unwrap()];
        assert!(!data.contains('<'), "{data}");
        let parsed: Value = serde_json::from_str(data).expect("valid JSON");
        assert_eq!(parsed["report"]["failures"][0]["error"], nasty);
    }
}
