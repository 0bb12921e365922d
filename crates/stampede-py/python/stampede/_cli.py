"""Stage one of the command line (what must be known before the locustfile is imported),
loading the locustfile, and the run itself."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import traceback

from stampede import _runtime

EXIT_USAGE = 2

#: Locust 0.8's spellings, rewritten with a one-line notice each.
LEGACY_FLAGS = {"-c": "-u", "--clients": "-u", "--hatch-rate": "-r", "--no-web": "--headless"}


def _say(msg: str) -> None:
    print(f"stampede: {msg}", file=sys.stderr)


def legacy_flags(argv):
    """``-c 5`` → ``-u 5``, ``--hatch-rate 2`` → ``-r 2``, ``--no-web`` → ``--headless``."""
    out = []
    for a in argv:
        key, eq, val = a.partition("=")
        new = LEGACY_FLAGS.get(key)
        if new is None:
            out.append(a)
            continue
        what = {"-u": "-u/--users", "-r": "-r/--spawn-rate", "--headless": "--headless"}[new]
        _say(f"{key} is Locust 0.8's spelling of {what}; using {new}")
        out.append(new + (eq + val if eq else ""))
    return out


#: Locust 2.47 flags the engine has no use for: accepted, each with a one-line notice of
#: what Stampede does instead (name -> (takes a value, notice)).
IGNORED_FLAGS = {
    "--headful": (False, "the web UI is already up unless --headless"),
    "--print-stats": (False, "the live table prints in headless mode only"),
    "--enable-rebalancing": (False, "the engine spreads users over workers again as they come and go"),
    "--class-picker": (False, "the web UI's start form already picks user classes"),
    "--legacy-ui": (False, "Stampede's web UI has one look"),
    "--web-login": (False, "use --web-auth USER:PASS for the web UI's login"),
    "--web-base-path": (True, "the web UI is served at /"),
    "--profile": (True, "reports do not carry a profile name"),
    "--expect-workers-max-wait": (True, "a master waits for --expect-workers without a limit"),
}
#: Locust 2.47 flags this front reads itself (name -> takes a value).
FRONT_FLAGS = {"--autoquit": True, "--equal-weights": False}


def locust_only_flags(argv):
    """Locust's flags that the engine does not take: the ignored ones said once and
    dropped, the front's own returned as {name: value}; ``--config-users`` refused by name."""
    out, own, i = [], {}, 0
    while i < len(argv):
        key, eq, val = argv[i].partition("=")
        if key == "--config-users":
            raise SystemExit(_usage("--config-users is not supported by Stampede's Python front (set the user classes' attributes in the locustfile)"))
        spec = IGNORED_FLAGS.get(key)
        takes = spec[0] if spec else FRONT_FLAGS.get(key)
        if takes is None:
            out.append(argv[i])
            i += 1
            continue
        if takes and not eq:
            if i + 1 >= len(argv):
                raise SystemExit(_usage(f"{key} needs a value"))
            val, i = argv[i + 1], i + 1
        i += 1
        if spec:
            _say(f"{key} is accepted and has no effect: {spec[1]}")
        else:
            own[key] = val if takes else True
    return out, own


def locust_environment():
    """``LOCUST_X`` settings apply as ``STAMPEDE_X`` unless that is set (STAMPEDE_* wins)."""
    for k, v in list(os.environ.items()):
        if k.startswith("LOCUST_") and k not in ("LOCUST_SKIP_MONKEY_PATCH", "LOCUST_LOCUSTFILE"):
            os.environ.setdefault("STAMPEDE_" + k[len("LOCUST_"):], v)


def take_locustfile(argv):
    """The locustfile paths (``-f``, else the environment, else ``locustfile.py``) and the
    rest of the command line."""
    rest, files = [], None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-f", "--locustfile"):
            if i + 1 >= len(argv):
                raise SystemExit(_usage(f"{a} needs a path"))
            files = argv[i + 1]
            i += 2
            continue
        if a.startswith("--locustfile="):
            files = a.split("=", 1)[1]
        elif a.startswith("-f") and len(a) > 2:
            files = a[2:]
        else:
            rest.append(a)
        i += 1
    if files is None:
        files = (
            os.environ.get("STAMPEDE_LOCUSTFILE")
            or os.environ.get("LOCUST_LOCUSTFILE")
            or locustfile_from_files(rest)
            or "locustfile.py"
        )
    return [f for f in files.split(",") if f], rest


def locustfile_from_files(argv):
    """The ``locustfile`` key of the config files, highest first as the engine reads them
    (``--config``, ``stampede.conf``, ``locust.conf``, ``pyproject.toml``'s ``[tool.stampede]``
    then ``[tool.locust]``); the engine itself skips that key."""
    conf = [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
    conf += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--config"]
    for path in [*conf, "stampede.conf", "locust.conf"]:
        try:
            with open(path) as f:
                for line in f:
                    key, eq, value = line.partition("=")
                    if eq and key.strip().replace("_", "-") in ("locustfile", "f"):
                        return value.strip().strip('"')
        except OSError:
            continue
    try:
        import tomllib  # Python 3.11+

        with open("pyproject.toml", "rb") as f:
            tool = tomllib.load(f).get("tool", {})
        for section in ("stampede", "locust"):
            value = tool.get(section, {}).get("locustfile")
            if value:
                return value
    except (ImportError, OSError, ValueError):
        pass
    return None


def _usage(msg):
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_USAGE


def load_locustfile(path):
    """Imports one locustfile as Locust does (its directory first on ``sys.path``); a
    missing file, a syntax error or an import error is a usage error naming the file."""
    if os.path.isdir(path):
        raise SystemExit(_usage(f"{path} is a directory; give a locustfile (a .py file)"))
    if not os.path.exists(path):
        raise SystemExit(_usage(f"could not find the locustfile {path!r} (give one with -f)"))
    if not path.endswith(".py"):
        raise SystemExit(_usage(f"the locustfile {path!r} must be a .py file"))
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise SystemExit(_usage(f"{e.filename}:{e.lineno}: SyntaxError: {e.msg}"))
    except SystemExit:
        raise
    except BaseException as e:
        tb = traceback.extract_tb(e.__traceback__)
        frame = next((f for f in reversed(tb) if os.path.abspath(f.filename) == os.path.abspath(path)), tb[-1] if tb else None)
        where = f"{frame.filename}:{frame.lineno}: " if frame else f"{path}: "
        traceback.print_exception(type(e), e, e.__traceback__)
        raise SystemExit(_usage(f"{where}{type(e).__name__}: {e} (while importing the locustfile)"))
    return module


def user_classes(modules):
    from stampede.compat.user.users import User

    found = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, User) and not getattr(value, "abstract", False):
                found.setdefault(value.__name__, value)
    return list(found.values())


def shape_classes(modules):
    from stampede.compat.shape import LoadTestShape

    out = []
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, LoadTestShape) and value is not LoadTestShape and not getattr(value, "abstract", False):
                out.append(value)
    return out


def _task_list(cls):
    """(name, weight) of the tasks the UI shows for a class: a single TaskSet's tasks
    (0.8's ``task_set``), else the class's own."""
    tasks = list(getattr(cls, "tasks", []) or [])
    if len(set(map(id, tasks))) == 1 and isinstance(tasks[0], type):
        tasks = list(getattr(tasks[0], "tasks", []) or [])
    counts = {}
    for t in tasks:
        name = getattr(t, "__name__", repr(t))
        counts[name] = counts.get(name, 0) + 1
    return list(counts.items())


def class_spec(cls, equal_weights=False):
    weight = 1 if equal_weights else getattr(cls, "weight", 1)
    weight = max(0, int(round(weight)))
    fixed = getattr(cls, "fixed_count", 0) or None
    sequential = False
    return (cls.__name__, weight, fixed, _task_list(cls), sequential)


def custom_arguments(argv):
    """The locustfile's own arguments (``events.init_command_line_parser``): parsed out of
    ``argv`` here; the rest goes to the engine's parser."""
    from stampede.compat import events
    from stampede.compat.argument_parser import LocustArgumentParser

    parser = LocustArgumentParser(add_help=False)
    events.init_command_line_parser.fire(parser=parser)
    ns, rest = parser.parse_known_args(argv)
    return parser, ns, rest


#: The engine's option ids under the names Locust's ``parsed_options`` uses.
LOCUST_NAMES = {"users": "num_users", "csv": "csv_prefix", "html": "html_file", "user_types": "user_classes"}
#: Locust's types for options scripts compute with.
INTS = ("num_users", "web_port", "master_port", "master_bind_port", "expect_workers", "exit_code_on_error",
        "autoquit", "expect_workers_max_wait", "heartbeat_liveness")
FLOATS = ("spawn_rate", "wait_scale")
LISTS = ("tags", "exclude_tags", "user_classes")


def _number(text, kind):
    try:
        return kind(text)
    except (TypeError, ValueError):
        return text


def options_namespace(values, custom):
    """Locust's ``parsed_options``: the engine's options under Locust's names and types
    (``run_time`` and ``stop_timeout`` in whole seconds, ports as integers, ``tags`` as a
    list), plus the locustfile's own."""
    ns = argparse.Namespace()
    for key, vals in values:
        v = vals[0] if len(vals) == 1 else list(vals)
        if v in ("true", "false"):
            v = v == "true"
        setattr(ns, LOCUST_NAMES.get(key, key), v)
    for key in INTS:
        if isinstance(getattr(ns, key, None), str):
            setattr(ns, key, _number(getattr(ns, key), int))
    for key in FLOATS:
        if isinstance(getattr(ns, key, None), str):
            setattr(ns, key, _number(getattr(ns, key), float))
    for key in ("run_time", "stop_timeout"):
        if isinstance(getattr(ns, key, None), str):
            setattr(ns, key, _seconds(getattr(ns, key)))
    for key in LISTS:
        v = getattr(ns, key, None)
        if isinstance(v, str):
            setattr(ns, key, [t for t in v.split(",") if t])
    for k, v in vars(custom).items():
        setattr(ns, k, v)
    return ns


def run(argv) -> int:
    from stampede import _core

    argv = legacy_flags(argv)
    locust_environment()
    if any(a in ("-V", "--version") for a in argv):
        from stampede import __version__

        print(f"stampede {__version__} (runs locustfiles written for Locust 2.47.0)")
        return 0
    from stampede import _processes

    try:
        argv, front_flags = locust_only_flags(argv)
        processes, argv = _processes.take(argv)
        files, argv = take_locustfile(argv)
        wants_help = any(a in ("-h", "--help") for a in argv)
        modules = [] if wants_help and not os.path.exists(files[0]) else [load_locustfile(f) for f in files]
        parser, custom, rest = custom_arguments(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    code, message, values = _core.parse_options(["stampede", *rest])
    children = []
    if processes and not (message or code):
        # Said once, by the process that forks, as Locust says it before forking.
        setup_logging(options_namespace(values, custom))
        logging.getLogger("locust.main").info(f"Starting Locust {_locust_version()}")
        rest, children = _processes.fork(processes, rest)
        if rest is None:  # --worker --processes N: this process only waits for them
            _processes.wait_children(children, within=float("inf"))
            return 0
        code, message, values = _core.parse_options(["stampede", *rest])
    if message or code:
        out = sys.stdout if code == 0 else sys.stderr
        out.write(message)
        if wants_help:
            out.write("\nLocustfile options:\n  -f, --locustfile <PATH>  the locustfile(s) (default: locustfile.py)\n")
            out.write(parser.format_help().split("\n", 1)[-1] if parser._actions else "")
        return code
    classes = user_classes(modules)
    if not classes:
        return _usage(f"no user class found in {', '.join(files)} (a User, HttpUser or FastHttpUser subclass that is not abstract)")
    options = options_namespace(values, custom)
    options._stampede_children = children
    #: The locustfile's own arguments: a master forwards them to its workers.
    options._stampede_custom = list(vars(custom))
    options.equal_weights = "--equal-weights" in front_flags
    options.autoquit = _number(front_flags.get("--autoquit", -1), float)
    #: Those the web UI's start form shows (Locust's "Custom parameters").
    options._stampede_ui = [a for a in parser._actions if getattr(a, "include_in_web_ui", False) and a.dest in vars(custom)]
    shapes = shape_classes(modules)
    if len(shapes) > 1:
        return _usage(f"more than one LoadTestShape in the locustfile: {', '.join(c.__name__ for c in shapes)}")
    options._stampede_shape = shapes[0] if shapes else None
    if not processes:
        setup_logging(options)
        logging.getLogger("locust.main").info(f"Starting Locust {_locust_version()}")
    return _run(classes, options, rest, files)


def _locust_version():
    from stampede.compat import __version__

    return __version__


TAG_FLAGS = ("-T", "--tags", "-E", "--exclude-tags")


def strip_tags(argv):
    """``--tags``/``--exclude-tags`` out of the engine's command line: Python filters the
    classes' tasks by tag (recursively into TaskSets, as Locust does), and a tag that no
    task has is Locust's warning, not the engine's error."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a.split("=", 1)[0] in TAG_FLAGS:
            i += 1
            if "=" not in a:
                while i < len(argv) and not argv[i].startswith("-"):
                    i += 1
            continue
        out.append(a)
        i += 1
    return out


def _tag_list(value):
    if value is None or value is False:
        return None
    values = value if isinstance(value, list) else [value]
    return [t for v in values for t in str(v).split(",") if t] or None


def setup_logging(options):
    """Locust's log format on stderr (``[time] host/LEVEL/logger: message``), so scripts and
    CI jobs that read Locust's lines read ours; Stampede's own lines follow them."""
    import socket

    try:
        from stampede.compat.log import setup_logging as locust_setup

        locust_setup(getattr(options, "loglevel", "INFO") or "INFO", getattr(options, "logfile", None))
        return
    except ImportError:
        pass
    level = str(getattr(options, "loglevel", "INFO") or "INFO").upper()
    logging.basicConfig(
        format=f"[%(asctime)s] {socket.gethostname()}/%(levelname)s/%(name)s: %(message)s",
        level=getattr(logging, level, logging.INFO),
        stream=sys.stderr,
    )


def _run(classes, options, rest, files):
    from stampede import _engine
    from stampede.compat import events
    from stampede.compat.env import Environment

    host = getattr(options, "host", None)
    override_host = bool(host) or "--worker" in rest
    if not host and "--worker" not in rest:
        host = next((c.host for c in classes if getattr(c, "host", None)), None)
        if host:
            rest = [*rest, "--host", host]
    if host:
        # As Locust's runner does at each start: --host overrides every class's own.
        for cls in classes:
            cls.host = host
    for cls in classes:
        if not (getattr(cls, "tasks", None)) and type(cls).__name__ != "Locust":
            return _usage(f"{cls.__name__} has no tasks (define @task methods or set tasks = [...])")
    shape = options._stampede_shape() if options._stampede_shape else None
    tags, exclude_tags = _tag_list(getattr(options, "tags", None)), _tag_list(getattr(options, "exclude_tags", None))
    options.locustfile = ",".join(files)
    rest = strip_tags(rest)
    environment = Environment(
        user_classes=classes,
        events=events,
        host=host,
        parsed_options=options,
        shape_class=shape,
        tags=tags,
        exclude_tags=exclude_tags,
    )
    environment.locustfile = ",".join(files)
    stop_timeout = float(getattr(options, "stop_timeout", 0) or 0)
    front = _engine.Front(classes, environment, stop_timeout=stop_timeout, override_host=override_host, shape=shape)
    _runtime.engine = front
    from stampede.compat import runners

    role = runners.MasterRunner if "--master" in rest else runners.WorkerRunner if "--worker" in rest else runners.LocalRunner
    environment._create_runner(role)
    events.init.fire(environment=environment, runner=environment.runner, web_ui=None)
    threads = int(os.environ.get("STAMPEDE_TOKIO_THREADS", "1"))
    log = logging.getLogger("locust.main")
    run_time = getattr(options, "run_time", None)
    if getattr(options, "headless", False) and "--worker" not in rest:
        # Said before the engine starts: its own lines go to the same stderr.
        if run_time:
            log.info(f"Run time limit set to {_seconds(str(run_time))} seconds")
        elif not shape_classes_of(environment):
            log.info("No run time limit set, use CTRL+C to interrupt")
    # As Locust's runner does at each start (after `init`, whose listeners may change them).
    environment._filter_tasks_by_tags()
    _on_sigterm(front, log)
    if isinstance(options.autoquit, float) and options.autoquit >= 0 and "--autostart" in rest:
        front.autoquit = options.autoquit
    front.start(["stampede", *rest], [class_spec(c, options.equal_weights) for c in classes], threads, _forwarded(options), _ui_options(options))
    code = front.wait_finished()
    if getattr(options, "_stampede_children", None):
        from stampede import _processes

        _processes.wait_children(options._stampede_children)
    events.quitting.fire(environment=environment)
    exit_override = getattr(environment, "process_exit_code", None)
    if isinstance(exit_override, int):
        code = exit_override
    elif code == 0 and _runtime.unhandled_greenlet_exception:
        code = 2  # a listener raised, as Locust's shutdown() says with exit code 2
    if "--worker" in rest and code == 1:
        code = 0  # a worker's failures are its master's verdict, as Locust's workers exit 0
    log.info(f"Shutting down (exit code {code})")
    return code


def _on_sigterm(front, log):
    """SIGTERM (``docker stop``, a CI job's timeout) ends the run as Ctrl-C does, with
    ``test_stop``, ``quitting``, the tables and every report, as Locust's handler does."""
    import signal

    import gevent

    def on_term():
        log.info("Got SIGTERM signal")
        front.shutdown()

    gevent.signal_handler(signal.SIGTERM, on_term)


def _forwarded(options):
    """The locustfile's own arguments as a master sends them to workers (Locust forwards
    its whole ``parsed_options``; a worker keeps the ones it does not set itself): values
    msgpack cannot carry are left out."""
    out = []
    # Locust's workers take these from their master's spawn too; the engine's own are
    # empty under -f (this front filters tasks by tag itself).
    for name in ("tags", "exclude_tags"):
        value = getattr(options, name, None)
        out.append((name, list(value) if value else None))
    for name in getattr(options, "_stampede_custom", ()):
        value = getattr(options, name, None)
        if isinstance(value, (type(None), bool, int, float, str, list, tuple, dict)):
            out.append((name, value))
    return out


def _ui_options(options):
    """The start form's fields for the locustfile's own arguments: (name, label, value as
    text, secret, choices, flag), as Locust's UI shows them."""
    out = []
    for a in getattr(options, "_stampede_ui", ()):
        value = getattr(options, a.dest, None)
        flag = isinstance(value, bool) or a.nargs == 0
        text = ("true" if value else "false") if flag else ("" if value is None else str(value))
        choices = [str(c) for c in a.choices] if a.choices else []
        out.append((a.dest, a.help or a.dest, text, bool(getattr(a, "is_secret", False)), choices, flag))
    return out


def _seconds(span: str):
    """A run time as Locust prints it (whole seconds), from any span the engine accepts,
    which also takes units Locust does not (`8500ms`)."""
    from stampede.compat.util.timespan import parse_timespan

    try:
        return parse_timespan(span)
    except ValueError:
        import re

        units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", span)
        total = sum(float(n) * units[u] for n, u in parts)
        return int(total) if total == int(total) else total


def shape_classes_of(environment):
    return getattr(environment, "shape_class", None) is not None
