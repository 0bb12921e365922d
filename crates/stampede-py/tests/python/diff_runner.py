"""Runs every scenario of ``scenarios.py`` with one user and prints one JSON object of traces.

``python diff_runner.py real`` imports real Locust 2.47; ``python diff_runner.py stampede``
installs Stampede's finder first, so the same file runs on ``stampede.compat``. The traces
hold only what must agree: task order, waits, on_start/on_stop, ``user_error`` events,
the first and last line of each log record, warnings, and how the greenlet ended.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
PY_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "python"))


def setup(mode):
    if mode == "stampede":
        from gevent import monkey

        monkey.patch_all()  # as the stampede command does, and as `import locust` does
        sys.path.insert(0, PY_DIR)
        from stampede import _hook

        _hook.install()
    elif mode != "real":
        raise SystemExit(f"usage: {sys.argv[0]} real|stampede [scenario...]")
    sys.path.insert(0, HERE)


class Capture(logging.Handler):
    """Log records as (logger, first line, last line): paths in tracebacks differ."""

    def __init__(self, trace):
        super().__init__(logging.WARNING)
        self.trace = trace

    def emit(self, record):
        lines = [l for l in record.getMessage().splitlines() if l.strip()]
        self.trace.append(("log", record.name, record.levelname, lines[0] if lines else "", lines[-1] if lines else ""))


def run_one(name, spec, scenarios, Environment, Group):
    scenarios.reset(spec["limit"])
    trace = scenarios.TRACE
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = spec["build"]()
    user_class, driver = built if isinstance(built, tuple) else (built, None)
    for w in caught:
        trace.append(("warning", w.category.__name__, str(w.message)))
    env = Environment(user_classes=[user_class], **spec["env"])
    env._filter_tasks_by_tags()
    env.events.user_error.add_listener(
        lambda user_instance, exception, tb, **kw: trace.append(("user_error", type(user_instance).__name__, repr(exception)))
    )
    random.seed(spec["seed"])
    user = user_class(env)
    greenlet = user.start(Group())
    if driver is not None:
        driver(user)
    greenlet.join(5)
    if not greenlet.dead:
        greenlet.kill()
        trace.append(("TIMEOUT",))
    trace.append(("ended", repr(greenlet.exception), user._state))
    return [list(t) if isinstance(t, tuple) else t for t in trace]


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    setup(mode)
    from gevent.pool import Group

    import scenarios
    from locust.env import Environment

    logging.getLogger().handlers[:] = []
    logging.getLogger().setLevel(logging.WARNING)
    handler = Capture(scenarios.TRACE)
    logging.getLogger().addHandler(handler)
    names = sys.argv[2:] or list(scenarios.SCENARIOS)
    out = {}
    for name in names:
        out[name] = run_one(name, scenarios.SCENARIOS[name], scenarios, Environment, Group)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
