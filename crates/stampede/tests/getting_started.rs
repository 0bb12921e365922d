//! The docs are code: `docs/getting-started.md` is followed step by step (a new crate outside
//! this workspace, its `Cargo.toml` and `main.rs` taken from the document, built and run
//! against the Hoodie Shop), and the README's plan snippet is checked against the example
//! it is cut from.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The fenced blocks of a markdown file, with their info strings (`toml Cargo.toml`).
fn blocks(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (line.strip_prefix("```"), open.take()) {
            (Some(info), None) => open = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(done)) => out.push(done),
            (None, Some((info, mut body))) => {
                body.push_str(line);
                body.push('\n');
                open = Some((info, body));
            }
            (None, None) => {}
        }
    }
    out
}

fn block<'a>(all: &'a [(String, String)], info: &str) -> &'a str {
    let found = all.iter().find(|(i, _)| i == info);
    &found
        .unwrap_or_else(|| panic!("docs/getting-started.md has no ```{info} block"))
        .1
}

/// Runs a command line from the document in `dir`; the target directory is shared between
/// runs (and outside the new crate) so a second run rebuilds only the plan.
fn run(dir: &Path, line: &str, target: &Path) -> std::process::Output {
    let words: Vec<&str> = line.split_whitespace().collect();
    let out = Command::new(words[0])
        .args(&words[1..])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {line}: {e}"));
    assert!(
        out.status.success() || words.get(1) == Some(&"run"),
        "{line} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_getting_started_guide_builds_a_plan_that_runs() {
    let doc = std::fs::read_to_string(repo().join("docs/getting-started.md")).unwrap();
    let all = blocks(&doc);
    let sh: Vec<&str> = all
        .iter()
        .filter(|(i, _)| i == "sh")
        .map(|(_, b)| b.as_str())
        .collect();
    let (new_crate, run_line) = (sh[0], sh[1].trim());
    let tmp = tempfile::tempdir().unwrap();
    // Its own target directory: cargo may hold this run's lock on `target/` while the tests
    // run. (The plan's `.cargo/config.toml` points at `target/`; `CARGO_TARGET_DIR` wins.)
    let target = repo().join("target/getting-started");

    // 1. The starter, from the checkout, as the guide runs it; the crate goes into a
    //    temporary directory (its optional second argument) instead of next to the checkout.
    let mut lines = new_crate.lines();
    let starter = lines.next().unwrap();
    assert_eq!(
        starter, "cargo run -p new-plan -- my-load-test",
        "the guide's starter changed"
    );
    let line = format!("{starter} {}", tmp.path().display());
    run(&repo(), &line, &target);
    assert_eq!(
        lines.next(),
        Some("cd ../my-load-test"),
        "the guide's cd changed"
    );
    let dir = tmp.path().join("my-load-test");

    // 2. What the guide says the starter wrote: its Cargo.toml lines (the path pointing at
    //    this checkout), the checkout's lock file, its plan.
    let stampede = repo().join("crates/stampede");
    let toml = block(&all, "toml Cargo.toml").replace(
        "/path/to/stampede/crates/stampede",
        stampede.to_str().unwrap(),
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    for line in toml.lines().filter(|l| !l.is_empty()) {
        assert!(
            manifest.contains(line),
            "the starter's Cargo.toml lacks {line:?}:\n{manifest}"
        );
    }
    assert_eq!(
        std::fs::read(dir.join("Cargo.lock")).unwrap(),
        std::fs::read(repo().join("Cargo.lock")).unwrap(),
        "the starter did not copy the checkout's lock file"
    );
    let main_rs = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
    assert_eq!(
        main_rs,
        block(&all, "rust src/main.rs"),
        "the guide shows another plan than the starter writes"
    );
    let config = std::fs::read_to_string(dir.join(".cargo/config.toml")).unwrap();
    let shared = repo().join("target");
    assert!(
        config.contains(&format!("target-dir = \"{}\"", shared.display())),
        "{config}"
    );

    // 4. The document's command line, aimed at a Hoodie Shop, for 4 s instead of 30 and
    //    with every user started at once (so the count below is no race with the clock).
    let db = tmp.path().join("shop.db");
    let shop = hoodie_shop::start("127.0.0.1:0".parse().unwrap(), &db)
        .await
        .unwrap();
    let report = tmp.path().join("report.json");
    assert!(
        run_line.contains("-u 10 -r 2 -t 30s"),
        "the guide's run changed: {run_line}"
    );
    let line = run_line
        .replace("http://localhost:8000", &shop.url())
        .replace(
            "-r 2 -t 30s",
            &format!("-r 100 -t 4s --report-json {}", report.display()),
        );
    let t = Instant::now();
    let out = tokio::task::spawn_blocking({
        let (dir, target) = (dir.clone(), target.clone());
        move || run(&dir, &line, &target)
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the plan failed ({:?}):\n{stderr}",
        out.status
    );
    eprintln!("built and ran the guide's plan in {:.1?}", t.elapsed());

    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let count = |name: &str| {
        r["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map_or(0, |e| e["num_requests"].as_u64().unwrap())
    };
    // Ten users, each running a task (its first request) as it starts.
    let first_requests = count("/") + count("/products/codemash-1/");
    assert!(first_requests >= 10, "{}", r["requests"]);
    assert_eq!(r["total"]["num_failures"], 0, "{stderr}");
    shop.shutdown().await;
}

#[test]
fn the_readmes_plan_snippet_is_the_examples_code() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let example =
        std::fs::read_to_string(repo().join("crates/stampede/examples/user_funnel.rs")).unwrap();
    let start = readme
        .find("<!-- snippet: examples/user_funnel.rs -->")
        .expect("the README marks its snippet");
    let snippet = &blocks(&readme[start..])[0];
    assert_eq!(snippet.0, "rust");
    // Cut where the README says `// ...`; each piece is in the example, in order.
    let mut from = 0;
    for piece in snippet.1.split("    // ...\n") {
        let at = example[from..]
            .find(piece)
            .unwrap_or_else(|| panic!("the README's snippet is not the example's code:\n{piece}"));
        from += at + piece.len();
    }
}
