//! Reports: terminal tables, Locust's CSV and JSON files, and Stampede's JSON report.

pub mod console;
pub mod csv;
pub mod html;
pub mod json;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes a report file whole or not at all: into `PATH.partial` beside it, then renamed
/// over `PATH`. A reader that sees the file (a CI step, a test waiting for a worker's
/// report) never sees half of it.
pub fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut io::BufWriter<std::fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let mut partial: PathBuf = path.to_path_buf();
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    partial.set_file_name(name);
    let mut out = io::BufWriter::new(std::fs::File::create(&partial)?);
    let written = fill(&mut out).and_then(|()| out.flush());
    drop(out);
    match written {
        Ok(()) => std::fs::rename(&partial, path),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}
