//! Locust's config file format (`key = value`, long option names), turned into arguments
//! placed before the real ones so the command line wins.

use std::path::{Path, PathBuf};

/// A config file that could not be used, naming the file and line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected `key = value`, found '{text}'")]
    Syntax {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("{path}:{line}: unknown option '{key}'")]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
    },
    #[error("{path}:{line}: '{key}' is a switch; its value must be true or false, not '{value}'")]
    NotABool {
        path: PathBuf,
        line: usize,
        key: String,
        value: String,
    },
}

/// Returns `argv` with the options of the config file inserted after the program name:
/// the file named by `--config`, or `stampede.conf` in the working directory when present.
/// Options also set through a `STAMPEDE_*` variable are skipped, so the precedence is
/// file < environment < command line, as in Locust.
pub fn expand_config_file(
    argv: Vec<String>,
    command: &clap::Command,
) -> Result<Vec<String>, ConfigFileError> {
    let explicit = config_arg(&argv);
    let path = match explicit {
        Some(p) => p,
        None if Path::new("stampede.conf").is_file() => PathBuf::from("stampede.conf"),
        None => return Ok(argv),
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read {
        path: path.clone(),
        source,
    })?;
    let mut inserted = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || line.starts_with('[')
        {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| ConfigFileError::Syntax {
                path: path.clone(),
                line: i + 1,
                text: line.to_owned(),
            })?;
        let key = key.trim().replace('_', "-");
        let value = value.trim().trim_matches('"').to_owned();
        let arg = command
            .get_arguments()
            .find(|a| {
                a.get_long() == Some(key.as_str())
                    || a.get_all_aliases()
                        .is_some_and(|al| al.contains(&key.as_str()))
            })
            .ok_or_else(|| ConfigFileError::UnknownKey {
                path: path.clone(),
                line: i + 1,
                key: key.clone(),
            })?;
        // An alias (`think-scale`) stands for its option's own name.
        let key = arg.get_long().map_or(key.clone(), str::to_owned);
        if std::env::var_os(format!("STAMPEDE_{}", key.replace('-', "_").to_uppercase())).is_some()
        {
            continue;
        }
        if arg.get_action().takes_values() {
            // Locust writes lists as `[a, b]`.
            let value = match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(","),
                None => value,
            };
            inserted.push(format!("--{key}={value}"));
        } else {
            match value.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => inserted.push(format!("--{key}")),
                "false" | "no" | "0" => {}
                _ => {
                    return Err(ConfigFileError::NotABool {
                        path: path.clone(),
                        line: i + 1,
                        key,
                        value,
                    })
                }
            }
        }
    }
    let mut out = Vec::with_capacity(argv.len() + inserted.len());
    let mut it = argv.into_iter();
    out.extend(it.next());
    out.extend(inserted);
    out.extend(it);
    Ok(out)
}

fn config_arg(argv: &[String]) -> Option<PathBuf> {
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}
