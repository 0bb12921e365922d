//! The settings' order (interfaces.md), highest first: the command line, `STAMPEDE_*`,
//! `LOCUST_*`, `--config FILE`, `stampede.conf`, `locust.conf`, `pyproject.toml`'s
//! `[tool.stampede]` then `[tool.locust]`, the defaults. Read through the front's own parse
//! (`stampede._core.parse_options`, the engine's one parser) in a folder holding every file.

mod common;

use std::path::Path;
use std::process::Command;

/// The parsed value of option `id` for `args`, run in `dir` with `env` set.
fn option(dir: &Path, args: &[&str], env: &[(&str, &str)], id: &str) -> Result<String, String> {
    let python = common::stampede().parent().unwrap().join("python");
    let script = format!(
        "import sys\nfrom stampede import _core, _cli\n_cli.locust_environment()\ncode, msg, values = _core.parse_options(['stampede', *sys.argv[1:]])\nif code or msg:\n    print('ERROR', msg.strip())\nelse:\n    print(dict((k, ','.join(v)) for k, v in values).get({id:?}, ''))\n"
    );
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(script).args(args).current_dir(dir);
    for (k, _) in
        std::env::vars().filter(|(k, _)| k.starts_with("STAMPEDE_") || k.starts_with("LOCUST_"))
    {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match text.strip_prefix("ERROR ") {
        Some(e) => Err(e.to_owned()),
        None if out.status.success() => Ok(text),
        None => panic!("{}", String::from_utf8_lossy(&out.stderr)),
    }
}

#[test]
fn each_source_of_settings_wins_in_the_documented_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("pyproject.toml"),
        "[project]\nname = \"x\"\n\n[tool.locust]\nusers = 1\nrun-time = \"11s\"\ntags = [\"a\", \"b\"]\nstop-timeout = 1\n\n[tool.stampede]\nusers = 2\nspawn-rate = 3\n",
    )
    .unwrap();
    let only_pyproject = |id| option(d, &[], &[], id).unwrap();
    assert_eq!(
        only_pyproject("users"),
        "2",
        "[tool.stampede] over [tool.locust]"
    );
    assert_eq!(only_pyproject("spawn_rate"), "3");
    assert_eq!(only_pyproject("run_time"), "11s", "[tool.locust] alone");
    assert_eq!(only_pyproject("tags"), "a,b", "a TOML list");
    std::fs::write(d.join("locust.conf"), "users = 5\nstop-timeout = 7\n").unwrap();
    assert_eq!(
        option(d, &[], &[], "users").unwrap(),
        "5",
        "locust.conf over pyproject.toml"
    );
    assert_eq!(option(d, &[], &[], "stop_timeout").unwrap(), "7");
    std::fs::write(d.join("stampede.conf"), "users = 6\n").unwrap();
    assert_eq!(
        option(d, &[], &[], "users").unwrap(),
        "6",
        "stampede.conf over locust.conf"
    );
    std::fs::write(d.join("other.conf"), "users = 10\n").unwrap();
    let given = |args: &[&str], env: &[(&str, &str)]| option(d, args, env, "users").unwrap();
    assert_eq!(
        given(&["--config", "other.conf"], &[]),
        "10",
        "--config over stampede.conf"
    );
    assert_eq!(
        given(&["--config", "other.conf"], &[("LOCUST_USERS", "8")]),
        "8",
        "LOCUST_* over files"
    );
    let both = [("LOCUST_USERS", "8"), ("STAMPEDE_USERS", "9")];
    assert_eq!(given(&[], &both), "9", "STAMPEDE_* over LOCUST_*");
    assert_eq!(
        given(&["-u", "11"], &both),
        "11",
        "the command line over all"
    );
    assert_eq!(
        option(d, &[], &[], "stop_timeout").unwrap(),
        "7",
        "untouched by the others"
    );
}

#[test]
fn an_unknown_key_in_any_file_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.locust]\nusers = 1\nno-such-option = 2\n",
    )
    .unwrap();
    let err = option(dir.path(), &[], &[], "users").unwrap_err();
    assert!(
        err.contains("pyproject.toml") && err.contains("no-such-option"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("locust.conf"),
        "locustfile = mine.py\nnope = 1\n",
    )
    .unwrap();
    let err = option(dir.path(), &[], &[], "users").unwrap_err();
    assert!(
        err.contains("locust.conf:2") && err.contains("nope"),
        "{err}"
    );
}

/// Locust 2.47's flags that Stampede has no use for are accepted, each with a notice, not
/// refused; `--autoquit N` with `--autostart` ends the process N seconds after the test;
/// `--config-users` is refused by name.
#[test]
fn locusts_other_flags_are_accepted_said_or_refused_by_name() {
    let target = common::Counter::start();
    let file = common::locustfile("plain_fast.py");
    let run = |extra: &[&str]| {
        let out = Command::new("timeout")
            .arg("60")
            .arg(common::stampede())
            .arg("-f")
            .arg(&file)
            .args(["-u", "1", "-r", "1", "-t", "1s", "--host", &target.url])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, log) = run(&[
        "--headless",
        "--headful",
        "--print-stats",
        "--enable-rebalancing",
        "--class-picker",
        "--legacy-ui",
        "--web-login",
        "--profile",
        "nightly",
        "--web-base-path=/lt",
        "--expect-workers-max-wait",
        "30",
        "--equal-weights",
        "--reset-stats",
    ]);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("locust.runners: Resetting stats"), "{log}");
    for flag in [
        "--headful",
        "--print-stats",
        "--profile",
        "--web-base-path",
        "--expect-workers-max-wait",
    ] {
        assert!(
            log.contains(&format!("{flag} is accepted and has no effect")),
            "{flag}: {log}"
        );
    }
    // The UI's own run ends, then --autoquit ends the process (timeout 60 would say 124).
    let (code, log) = run(&["--web-port", "0", "--autostart", "--autoquit", "1"]);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("quitting in 1 seconds (--autoquit)"), "{log}");
    let (code, log) = run(&["--headless", "--config-users", "{}"]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("--config-users is not supported"), "{log}");
}
