//! Locust's config files (`key = value`, long option names; `pyproject.toml`'s
//! `[tool.locust]` and `[tool.stampede]`), turned into arguments placed before the real
//! ones so the command line wins.

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

/// Returns `argv` with the options of the config files inserted after the program name, in
/// the order `interfaces.md` gives, lowest first: `pyproject.toml`'s `[tool.locust]`, then
/// its `[tool.stampede]`, `locust.conf`, `stampede.conf` (in the working directory, each when
/// present), and the file named by `--config`. A later file's value wins (the command line
/// keeps the last of repeated options), and the command line, placed after them all, wins
/// over every file. Options also set through a `STAMPEDE_*` variable are skipped, so the
/// precedence is files < environment < command line, as in Locust.
pub fn expand_config_file(
    argv: Vec<String>,
    command: &clap::Command,
) -> Result<Vec<String>, ConfigFileError> {
    let mut inserted = Vec::new();
    let pyproject = Path::new("pyproject.toml");
    if pyproject.is_file() {
        for section in ["locust", "stampede"] {
            for entry in toml_section(pyproject, section)? {
                push_option(&mut inserted, entry, command)?;
            }
        }
    }
    let mut files: Vec<PathBuf> = ["locust.conf", "stampede.conf"]
        .into_iter()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    files.extend(config_arg(&argv));
    for path in files {
        for entry in conf_lines(&path)? {
            push_option(&mut inserted, entry, command)?;
        }
    }
    let mut out = Vec::with_capacity(argv.len() + inserted.len());
    let mut it = argv.into_iter();
    out.extend(it.next());
    out.extend(inserted);
    out.extend(it);
    Ok(out)
}

/// One `key = value` of a config file, with where it came from.
struct Entry {
    path: PathBuf,
    line: usize,
    key: String,
    value: String,
}

/// The `key = value` lines of a Locust-style config file (`#`/`;` comments, `[section]`
/// headers ignored).
fn conf_lines(path: &Path) -> Result<Vec<Entry>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
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
                path: path.to_owned(),
                line: i + 1,
                text: line.to_owned(),
            })?;
        out.push(Entry {
            path: path.to_owned(),
            line: i + 1,
            key: key.trim().to_owned(),
            value: value.trim().trim_matches('"').to_owned(),
        });
    }
    Ok(out)
}

/// The keys of `pyproject.toml`'s `[tool.SECTION]`, as Locust reads them: values as text,
/// lists as `[a, b]`.
fn toml_section(path: &Path, section: &str) -> Result<Vec<Entry>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigFileError::Syntax {
                path: path.to_owned(),
                line: e
                    .span()
                    .map_or(0, |s| text[..s.start.min(text.len())].lines().count()),
                text: e.message().to_owned(),
            })?;
    let Some(keys) = table
        .get("tool")
        .and_then(|t| t.get(section))
        .and_then(|t| t.as_table())
    else {
        return Ok(Vec::new());
    };
    let line_of = |key: &str| {
        text.lines()
            .position(|l| l.trim_start().starts_with(key))
            .map_or(0, |i| i + 1)
    };
    let text_of = |v: &toml::Value| match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => String::new(),
    };
    Ok(keys
        .iter()
        .map(|(key, value)| Entry {
            path: path.to_owned(),
            line: line_of(key),
            key: key.clone(),
            value: match value {
                toml::Value::Array(items) => {
                    let items: Vec<String> = items.iter().map(text_of).collect();
                    format!("[{}]", items.join(", "))
                }
                v => text_of(v),
            },
        })
        .collect())
}

/// The arguments one config entry stands for, appended to `inserted`.
fn push_option(
    inserted: &mut Vec<String>,
    entry: Entry,
    command: &clap::Command,
) -> Result<(), ConfigFileError> {
    let Entry {
        path,
        line,
        key,
        value,
    } = entry;
    let key = key.replace('_', "-");
    // The Python front reads its locustfile from the files itself (`stampede -f`).
    if key == "locustfile" || key == "f" {
        return Ok(());
    }
    let arg = command
        .get_arguments()
        .find(|a| {
            a.get_long() == Some(key.as_str())
                || a.get_all_aliases()
                    .is_some_and(|al| al.contains(&key.as_str()))
        })
        .ok_or_else(|| ConfigFileError::UnknownKey {
            path: path.clone(),
            line,
            key: key.clone(),
        })?;
    // An alias (`think-scale`) stands for its option's own name.
    let key = arg.get_long().map_or(key.clone(), str::to_owned);
    if std::env::var_os(format!("STAMPEDE_{}", key.replace('-', "_").to_uppercase())).is_some() {
        return Ok(());
    }
    if arg.get_action().takes_values() {
        // Locust writes lists as `[a, b]`.
        let value = match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            Some(list) => list
                .split(',')
                .map(|s| s.trim().trim_matches('"'))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(","),
            None => value,
        };
        inserted.push(format!("--{key}={value}"));
        return Ok(());
    }
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => inserted.push(format!("--{key}")),
        "false" | "no" | "0" => {}
        _ => {
            return Err(ConfigFileError::NotABool {
                path,
                line,
                key,
                value,
            })
        }
    }
    Ok(())
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
