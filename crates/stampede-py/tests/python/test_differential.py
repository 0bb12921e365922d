"""The same user classes (``scenarios.py``) run under real Locust 2.47 and under Stampede's
compat layer, one user, seeded ``random``: the traces (task order, waits, on_start/on_stop,
``user_error`` events, log lines, warnings, how the greenlet ended) must be identical.

Each side runs in its own subprocess (``diff_runner.py``), so real Locust never meets the
finder. Both are run once per session; each scenario is one test.
"""

import json
import os
import subprocess
import sys

import pytest

import scenarios

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(mode):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCUST_SKIP_MONKEY_PATCH")}
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "diff_runner.py"), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=HERE,
    )
    assert proc.returncode == 0, f"{mode} runner failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def traces():
    return _run("real"), _run("stampede")


def _first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first difference at entry {i}:\n  locust:   {x}\n  stampede: {y}"
    return f"lengths differ: locust {len(a)}, stampede {len(b)}"


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_same_trace_as_locust(traces, name):
    real, ours = traces
    assert name in real and name in ours
    assert real[name] == ours[name], _first_difference(real[name], ours[name])


def test_traces_are_not_trivial(traces):
    """Guards the harness: every scenario ran tasks or recorded something, and ended."""
    real, _ = traces
    for name, trace in real.items():
        assert trace[-1][0] == "ended", name
        assert len(trace) > 1, name
        assert ["TIMEOUT"] not in trace, name
