//! The files of a new plan crate. `src/main.rs` is the plan `docs/getting-started.md` shows
//! (the test `tests/getting_started.rs` keeps the two the same).

use std::path::Path;

/// The plan a new crate starts with: two tasks on the Hoodie Shop's pages.
pub const MAIN_RS: &str = r#"use stampede::prelude::*;

/// Someone reading the shop: a browser session of their own (cookies, keep-alive).
struct Reader {
    client: Client,
}

impl Reader {
    async fn home(&mut self) -> TaskResult<Response> {
        self.client.get("/").expect_status(200).await
    }

    async fn product(&mut self) -> TaskResult<Response> {
        self.client.get("/products/codemash-1/").expect_text("CodeMash").await?;
        self.client.think(2.0).await?; // reading the page
        self.client.get("/").name("back home").await
    }
}

fn main() -> ExitCode {
    stampede::main(
        Plan::new().user_type(
            UserType::new("Reader", |ctx| Reader { client: ctx.client() })
                .wait_time(between(1.0, 3.0))
                .task(task!(3, Reader::home))
                .task(task!(1, Reader::product)),
        ),
    )
}
"#;

/// A crate name cargo accepts: ASCII letters, digits, `-` and `_`, not starting with a digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit() || c == '-')
        && !matches!(name, "test" | "self" | "crate" | "super" | "std" | "core")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a crate name: use letters, digits, '-' and '_', not starting with a digit or '-', and not a reserved name"
        ))
    }
}

/// (path in the crate, contents) of every file but `Cargo.lock`, which is copied.
pub fn crate_files(name: &str, clone: &Path) -> Vec<(&'static str, String)> {
    let stampede = clone.join("crates/stampede");
    let target = clone.join("target");
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

# A workspace of its own, wherever it is written (even inside another workspace).
[workspace]

[dependencies]
stampede = {{ path = "{stampede}" }}

# Optimise the dependencies even in debug builds, and build release binaries without debug
# info: a plan then rebuilds in seconds after an edit.
[profile.dev.package."*"]
opt-level = 2

[profile.release]
debug = false
"#,
        stampede = toml_escaped(&stampede)
    );
    let config = format!(
        r#"# Built in the Stampede checkout's own target directory: the Hoodie Shop and this plan
# then share what they have in common (tokio, hyper, axum, serde...), built once.
[build]
target-dir = "{}"
"#,
        toml_escaped(&target)
    );
    vec![
        ("Cargo.toml", manifest),
        (".cargo/config.toml", config),
        ("src/main.rs", MAIN_RS.to_owned()),
        (".gitignore", "/target\n".to_owned()),
    ]
}

/// `path` for a TOML basic string: `\\` and `"` escaped.
fn toml_escaped(path: &Path) -> String {
    path.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

/// What to do next, printed once the crate is written.
pub fn next_steps(at: &Path) -> String {
    format!(
        "Wrote the plan crate {at}.\n\
         Its Cargo.lock is this checkout's, so it builds with exactly the versions Stampede is tested with.\n\
         Start the Hoodie Shop (in this checkout):\n    cargo run --release -p hoodie-shop -- --bind 127.0.0.1:8000 --db /tmp/hoodie-shop.db\n\
         Then run the plan:\n    cd '{at}'\n    cargo run --release -- --host http://localhost:8000 --headless -u 10 -r 2 -t 30s",
        at = at.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_refuses_are_refused_naming_them() {
        assert!(check_name("my-load-test").is_ok());
        assert!(check_name("plan_2").is_ok());
        for bad in ["", "2fast", "my plan", "café", "a/b", "--help", "test"] {
            let e = check_name(bad).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn the_manifest_points_at_this_checkout() {
        let files = crate_files("p", Path::new("/src/stampede"));
        let manifest = &files[0].1;
        assert!(
            manifest.contains(r#"stampede = { path = "/src/stampede/crates/stampede" }"#),
            "{manifest}"
        );
        assert!(files[1]
            .1
            .contains(r#"target-dir = "/src/stampede/target""#));
        // A quote or a backslash in the path is escaped, not the end of the string.
        let odd = crate_files("p", Path::new(r#"/src/a "b" \c"#));
        assert!(
            odd[0]
                .1
                .contains(r#"path = "/src/a \"b\" \\c/crates/stampede""#),
            "{}",
            odd[0].1
        );
    }
}
