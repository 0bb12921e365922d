//! `cargo run -p new-plan -- NAME [DIR]`: writes a ready plan crate named NAME (in DIR, by
//! default next to this checkout) that depends on this checkout's `stampede`, builds with its
//! `Cargo.lock`, shares its target directory, and runs against the Hoodie Shop as it is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod files;

fn main() -> ExitCode {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect()
    {
        Ok(args) => args,
        Err(bad) => {
            eprintln!("error: an argument is not UTF-8: {bad:?}");
            return ExitCode::from(2);
        }
    };
    let (name, dir) = match args.as_slice() {
        [name] => (name.as_str(), None),
        [name, dir] => (name.as_str(), Some(PathBuf::from(dir))),
        _ => {
            eprintln!("usage: cargo run -p new-plan -- NAME [DIR]\n  writes the plan crate NAME into DIR/NAME (DIR: the directory that holds this checkout)");
            return ExitCode::from(2);
        }
    };
    match write(name, dir) {
        Ok(at) => {
            println!("{}", files::next_steps(&at));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The checkout this binary was built from: two levels above its own crate.
fn checkout() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.join("../..")
        .canonicalize()
        .unwrap_or_else(|_| here.join("../.."))
}

/// Writes the crate; its path, or why not.
fn write(name: &str, dir: Option<PathBuf>) -> Result<PathBuf, String> {
    files::check_name(name)?;
    let clone = checkout();
    let parent = match dir {
        Some(d) => d,
        None => clone
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let at = parent.join(name);
    if at.exists() {
        return Err(format!(
            "{} exists already; choose another name or directory",
            at.display()
        ));
    }
    let mut made = Vec::new();
    for (path, text) in files::crate_files(name, &clone) {
        let file = at.join(path);
        if let Some(d) = file.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        made.push(file);
    }
    let lock = clone.join("Cargo.lock");
    std::fs::copy(&lock, at.join("Cargo.lock"))
        .map_err(|e| format!("cannot copy {}: {e}", lock.display()))?;
    Ok(at)
}
