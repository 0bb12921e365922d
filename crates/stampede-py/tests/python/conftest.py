"""Puts ``crates/stampede-py/python`` on ``sys.path`` and installs the ``locust`` finder, so
tests import ``locust`` exactly as a locustfile does under ``stampede``.

Run: ``target/locust-venv/bin/python -m pytest crates/stampede-py/tests/python``. Real Locust
is only ever imported in subprocesses (the differential tests), never in this process.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PY_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "python"))
if PY_DIR not in sys.path:
    sys.path.insert(0, PY_DIR)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from stampede import _hook, _runtime  # noqa: E402

_hook.install()


def _forget_locust_aliases():
    """Drops the ``locust``/``locust.*`` names from ``sys.modules`` (the compat modules stay,
    so the next ``import locust`` gives the same objects). Other suites here check that no
    ``locust`` is loaded in this process; test modules that import ``locust`` at collection
    must not trip them."""
    _hook.uninstall()
    _hook.install()


def pytest_collection_finish(session):
    _forget_locust_aliases()


@pytest.fixture(autouse=True)
def clean_runtime():
    """Each test starts with no engine and empty fallbacks, and leaves no ``locust`` alias."""
    saved = dict(_runtime.fallback)
    _runtime.engine = None
    _runtime.fake_events.clear()
    _runtime.fake_exceptions.clear()
    _runtime.unhandled_greenlet_exception = False
    _runtime.fake_quit_requested = False
    yield
    _runtime.engine = None
    _runtime.fallback.clear()
    _runtime.fallback.update(saved)
    _forget_locust_aliases()


class FakeEngine:
    """Stands in for the engine object behind ``_runtime`` (records what it is asked)."""

    def __init__(self, scale=1.0):
        self.scale = scale
        self.calls = []

    def wait_scale(self):
        return self.scale

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args):
            self.calls.append((name, *args))
            return {"runner_state": "running", "user_count": 5, "target_user_count": 9,
                    "worker_count": 3, "user_classes_count": {"U": 5}}.get(name)

        return record


@pytest.fixture
def engine():
    e = FakeEngine()
    _runtime.engine = e
    return e
