//! Finding one `<input>`'s value without building a DOM: what `hidden_input` needs for a
//! CSRF token on every form page. A streaming scan over the bytes is tens of times cheaper
//! than parsing the document, and a funnel does it on every signup.
//!
//! The scan tokenizes tags as an HTML parser would (tag and attribute names ignore case,
//! values are quoted or bare, the first of two same-named attributes wins, comments and the
//! text of `<script>`, `<style>`, `<textarea>` and `<title>` hold no elements). Whatever it
//! is not sure of (a character reference in the value, a `<template>`, foreign content,
//! a raw-text element left open) it leaves to the full parser, so its answer is always the
//! DOM's.

/// What the scan found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scan {
    Found(String),
    Absent,
    /// The document needs the real parser.
    Unsure,
}

/// Elements whose content the parser reads as text, not tags.
const RAW_TEXT: [&[u8]; 4] = [b"script", b"style", b"textarea", b"title"];
/// Elements after which the scan cannot match the parser's tree.
const UNSURE: [&[u8]; 9] = [
    b"template",
    b"svg",
    b"math",
    b"plaintext",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
];

/// The `value` of the first `<input>` whose `name` is `name` and which has a value.
pub(super) fn input_value(html: &[u8], name: &str) -> Scan {
    let mut at = 0;
    while let Some(lt) = find(html, at, b'<') {
        at = lt + 1;
        let rest = &html[at..];
        if rest.starts_with(b"!--") {
            match find_seq(html, at + 3, b"-->") {
                Some(end) => at = end + 3,
                None => return Scan::Unsure,
            }
            continue;
        }
        let tag_len = rest
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        if tag_len == 0 {
            continue; // `</x>`, `<!DOCTYPE>`, a bare `<`: no element starts here
        }
        let tag = &rest[..tag_len];
        let input = tag.eq_ignore_ascii_case(b"input");
        let (mut this_name, mut value) = (None, None);
        let end = attributes(html, at + tag_len, |n, v| {
            if !input {
            } else if n.eq_ignore_ascii_case(b"name") {
                this_name.get_or_insert(v);
            } else if n.eq_ignore_ascii_case(b"value") {
                value.get_or_insert(v);
            }
        });
        let Some(end) = end else {
            return Scan::Unsure;
        };
        at = end;
        if UNSURE.iter().any(|t| tag.eq_ignore_ascii_case(t)) {
            return Scan::Unsure;
        }
        if let Some(raw) = RAW_TEXT.iter().find(|t| tag.eq_ignore_ascii_case(t)) {
            match closing_tag(html, at, raw) {
                Some(after) => at = after,
                None => return Scan::Unsure,
            }
            continue;
        }
        if !input || this_name != Some(name.as_bytes()) {
            continue;
        }
        let Some(value) = value else { continue };
        if value.contains(&b'&') || value.contains(&b'\r') || value.contains(&0) {
            return Scan::Unsure; // references and newlines are the parser's to decode
        }
        return match std::str::from_utf8(value) {
            Ok(v) => Scan::Found(v.to_owned()),
            Err(_) => Scan::Unsure,
        };
    }
    Scan::Absent
}

fn find(html: &[u8], from: usize, b: u8) -> Option<usize> {
    html.get(from..)?
        .iter()
        .position(|&c| c == b)
        .map(|i| from + i)
}

fn find_seq(html: &[u8], from: usize, seq: &[u8]) -> Option<usize> {
    html.get(from..)?
        .windows(seq.len())
        .position(|w| w == seq)
        .map(|i| from + i)
}

/// Where the raw text of `tag` ends: just past its `</tag`'s `>`.
fn closing_tag(html: &[u8], from: usize, tag: &[u8]) -> Option<usize> {
    let mut at = from;
    loop {
        let lt = find_seq(html, at, b"</")?;
        let name = html.get(lt + 2..lt + 2 + tag.len())?;
        let next = html.get(lt + 2 + tag.len()).copied();
        if name.eq_ignore_ascii_case(tag)
            && matches!(
                next,
                Some(b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
            )
        {
            return find(html, lt, b'>').map(|gt| gt + 1);
        }
        at = lt + 2;
    }
}

/// Calls `attr` with each attribute (name, value) of a tag whose name ends at `from`, and
/// says where the tag ends; `None` when the document ends inside it.
fn attributes<'h>(
    html: &'h [u8],
    from: usize,
    mut attr: impl FnMut(&'h [u8], &'h [u8]),
) -> Option<usize> {
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r');
    let mut i = from;
    loop {
        while i < html.len() && (space(html[i]) || html[i] == b'/') {
            i += 1;
        }
        if *html.get(i)? == b'>' {
            return Some(i + 1);
        }
        let start = i;
        // An attribute name may begin with `=`; it ends at space, `/`, `>` or `=`.
        i += 1;
        while i < html.len() && !space(html[i]) && !matches!(html[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let name = &html[start..i];
        while i < html.len() && space(html[i]) {
            i += 1;
        }
        if html.get(i) != Some(&b'=') {
            attr(name, b"");
            continue;
        }
        i += 1;
        while i < html.len() && space(html[i]) {
            i += 1;
        }
        let value = match *html.get(i)? {
            q @ (b'"' | b'\'') => {
                let end = find(html, i + 1, q)?;
                let v = &html[i + 1..end];
                i = end + 1;
                v
            }
            b'>' => &b""[..],
            _ => {
                let s = i;
                while i < html.len() && !space(html[i]) && html[i] != b'>' {
                    i += 1;
                }
                &html[s..i]
            }
        };
        attr(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scraper::{Html, Selector};

    /// What the DOM says, the reference the scan must agree with.
    fn dom(html: &str, name: &str) -> Option<String> {
        let doc = Html::parse_document(html);
        let sel = Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
        doc.select(&sel)
            .find_map(|e| e.value().attr("value").map(str::to_owned))
    }

    const CASES: &[&str] = &[
        r#"<form><input type="hidden" name="csrfmiddlewaretoken" value="abc123"></form>"#,
        r#"<INPUT TYPE=hidden NAME=csrfmiddlewaretoken VALUE=bare123>"#,
        r#"<input name='csrfmiddlewaretoken' value='single'/>"#,
        r#"<input name="csrfmiddlewaretoken"><input name="csrfmiddlewaretoken" value="second">"#,
        r#"<input name="csrfmiddlewaretoken" value="first" value="dup">"#,
        r#"<input name="csrfmiddlewaretoken" name="other" value="x">"#,
        r#"<input name="other" name="csrfmiddlewaretoken" value="x">"#,
        r#"<!-- <input name="csrfmiddlewaretoken" value="commented"> --><input name="csrfmiddlewaretoken" value="real">"#,
        r#"<script>var s = '<input name="csrfmiddlewaretoken" value="js">';</script><input name="csrfmiddlewaretoken" value="after">"#,
        r#"<textarea><input name="csrfmiddlewaretoken" value="text"></textarea>"#,
        r#"<inputs name="csrfmiddlewaretoken" value="no"><input name="csrfmiddlewaretoken" value="yes">"#,
        r#"<input name="csrfmiddlewaretoken" value="a&amp;b">"#,
        r#"<template><input name="csrfmiddlewaretoken" value="tpl"></template>"#,
        r#"<input name = "csrfmiddlewaretoken" value = "spaced" >"#,
        r#"<input name="csrfmiddlewaretoken" value>"#,
        r#"<input name="csrfmiddlewaretoken" value="">"#,
        r#"<p>no inputs at all</p>"#,
        r#"<input name="csrfmiddlewaretoken" value="unterminated"#,
        r#"<div title="<input name=csrfmiddlewaretoken value=attr>"><input name="csrfmiddlewaretoken" value="outer"></div>"#,
        r#"<input name="CSRFMIDDLEWARETOKEN" value="case"><input name="csrfmiddlewaretoken" value="exact">"#,
        r#"<input/name="csrfmiddlewaretoken"/value="slashes">"#,
        r#"<style>input{}</style><input name="csrfmiddlewaretoken" value="styled">"#,
        r#"<svg><input name="csrfmiddlewaretoken" value="svg"></svg>"#,
        r#"<input name="csrfmiddlewaretoken" value="üñí">"#,
    ];

    #[test]
    fn the_scan_agrees_with_the_dom_or_defers_to_it() {
        let mut unsure = Vec::new();
        for html in CASES {
            let scan = input_value(html.as_bytes(), "csrfmiddlewaretoken");
            let dom = dom(html, "csrfmiddlewaretoken");
            match scan {
                Scan::Found(v) => assert_eq!(Some(v), dom, "{html}"),
                Scan::Absent => assert_eq!(None, dom, "{html}"),
                Scan::Unsure => unsure.push(*html),
            }
        }
        // It defers only where it said it would: references, templates, foreign content
        // and a document cut inside a tag.
        assert_eq!(unsure.len(), 4, "{unsure:#?}");
    }

    #[test]
    fn the_usual_token_is_found_without_the_dom() {
        let page = r#"<html><head><title>Sign up</title><script src="/a.js"></script></head>
            <body><form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="Zt9w">
            <input name="email"></form></body></html>"#;
        let scan = input_value(page.as_bytes(), "csrfmiddlewaretoken");
        assert_eq!(scan, Scan::Found("Zt9w".into()));
        assert_eq!(input_value(page.as_bytes(), "missing"), Scan::Absent);
    }
}
