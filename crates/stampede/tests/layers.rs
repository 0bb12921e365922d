//! The crate's layers, read from its sources: no two files import each other in a circle,
//! and no top-level module imports one above it in the order `lib.rs` declares, except the
//! edges listed in `KNOWN_UPWARD` (each with its reason; the list may only shrink: an entry
//! no longer needed fails too). An import is a `crate::...` or `super::...` path in a
//! file's code, its `#[cfg(test)] mod tests` left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up; a module may import those in its own layer
/// or below. Keep in step with the order in `src/lib.rs`'s docs.
const LAYERS: &[&[&str]] = &[
    &[
        "stats", "wait", "fake", "funnel", "arrivals", "capacity", "assets", "values",
    ],
    &["threshold", "client"],
    &["task"],
    &["user"],
    &["runner", "shape", "milestone", "relay"],
    &["plan"],
    &["inspect", "lifecycle", "report", "telemetry"],
    &["outcome", "swarm"],
    &["distributed"],
    &["config"],
    &["headless", "web"],
    &["run", "app", "lib"],
];

/// Upward imports that exist today. The all-modes `Options` no longer reaches below
/// `config`: each layer takes settings built from it there (`config/run_settings.rs`).
const KNOWN_UPWARD: &[(&str, &str, &str)] = &[(
    "swarm",
    "distributed",
    "Plan::master_swarm builds the master from the swarm's config",
)];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `client/request/mod.rs` -> ["client", "request"].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap().trim_end_matches(".rs").to_owned();
    if last != "mod" && last != "lib" {
        parts.push(last);
    }
    parts
}

/// The paths a file names: `crate::a::b`, `crate::{a, b::c}`, `super::x`, `super::{x, y}`.
fn references(code: &str, me: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", me[..me.len().saturating_sub(1)].to_vec()),
    ] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let (segs, tail) = path_segments(rest);
            if let Some(group) = tail.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let (inner, _) = path_segments(item.trim());
                    if !inner.is_empty() {
                        out.push([base.clone(), segs.clone(), inner].concat());
                    }
                }
            } else if !segs.is_empty() {
                out.push([base.clone(), segs].concat());
            }
        }
    }
    out
}

/// Leading `ident::ident::` segments (lowercase module-like names), and what follows them.
fn path_segments(s: &str) -> (Vec<String>, &str) {
    let mut segs = Vec::new();
    let mut rest = s;
    loop {
        let n = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        if n == 0 {
            return (segs, rest);
        }
        segs.push(rest[..n].to_owned());
        match rest[n..].strip_prefix("::") {
            Some(r) => rest = r,
            None => return (segs, &rest[n..]),
        }
    }
}

/// file -> files it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut all = Vec::new();
    files(&root, &mut all);
    let modules: BTreeMap<Vec<String>, String> = all
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap();
            (module_path(rel), rel.to_string_lossy().into_owned())
        })
        .collect();
    let mut g = BTreeMap::new();
    for p in &all {
        let rel = p.strip_prefix(&root).unwrap();
        let me = module_path(rel);
        let text = std::fs::read_to_string(p).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let mut deps = BTreeSet::new();
        for r in references(code, &me) {
            let target = (1..=r.len()).rev().find_map(|k| modules.get(&r[..k]));
            if let Some(t) = target.filter(|t| **t != *rel.to_string_lossy()) {
                deps.insert(t.clone());
            }
        }
        g.insert(rel.to_string_lossy().into_owned(), deps);
    }
    g
}

fn top(file: &str) -> String {
    file.split('/')
        .next()
        .unwrap()
        .trim_end_matches(".rs")
        .to_owned()
}

#[test]
fn no_two_files_import_each_other_in_a_circle() {
    let g = graph();
    // Every file that can reach itself is on a cycle; name the cycle's files.
    let mut on_cycle = BTreeSet::new();
    for start in g.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = g[start].iter().collect();
        while let Some(f) = todo.pop() {
            if f == start {
                on_cycle.insert(start.clone());
                break;
            }
            if seen.insert(f.clone()) {
                todo.extend(g.get(f).into_iter().flatten());
            }
        }
    }
    assert!(
        on_cycle.is_empty(),
        "files on an import cycle: {on_cycle:?}"
    );
}

#[test]
fn no_module_imports_one_above_it() {
    let layer = |m: &str| {
        LAYERS
            .iter()
            .position(|l| l.contains(&m))
            .unwrap_or_else(|| {
                panic!("module {m} is in no layer: add it to LAYERS and lib.rs's docs")
            })
    };
    let mut upward = BTreeSet::new();
    for (file, deps) in graph() {
        let from = top(&file);
        for d in deps {
            let to = top(&d);
            if to != from && layer(&to) > layer(&from) {
                upward.insert((from.clone(), to));
            }
        }
    }
    let known: BTreeSet<(String, String)> = KNOWN_UPWARD
        .iter()
        .map(|(a, b, _)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let new: Vec<_> = upward.difference(&known).collect();
    assert!(new.is_empty(), "imports against the layer order: {new:?}");
    let stale: Vec<_> = known.difference(&upward).collect();
    assert!(
        stale.is_empty(),
        "KNOWN_UPWARD lists edges that are gone (remove them): {stale:?}"
    );
    // The report the closing note quotes.
    for (i, l) in LAYERS.iter().enumerate() {
        eprintln!("layer {i}: {}", l.join(", "));
    }
    eprintln!("known upward imports: {}", KNOWN_UPWARD.len());
}
