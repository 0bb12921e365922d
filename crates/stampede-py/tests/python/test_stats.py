"""``locust.stats`` (``stampede.compat.stats``) against real Locust 2.47's.

The same 300 requests (every bucket edge, None response times, five kinds of failure, a
clock that moves between them) go into real Locust's ``RequestStats`` in a subprocess, as its
runner logs them (``log_request``, then ``log_error`` with the exception), and into ours in
this process through ``_runtime.on_request_recorded``, as the engine feeds it (the error as
its key text). Every field, property, percentile, table line and error row must be equal,
after each phase (``reset_all``, ``clear_all``, ``serialize_stats``). The one known
difference, ``to_name`` of a ``CatchResponseError``, is asserted as such.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import timeit

import pytest

import _stats_ops
from stampede import _runtime
from stampede.compat import stats as S
from stampede.compat.exception import CatchResponseError

HERE = os.path.dirname(os.path.abspath(__file__))

_LOCUST_SIDE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import locust.stats as S
from locust.exception import CatchResponseError
import _stats_ops

def feed(stats, method, name, rt, length, err):
    stats.log_request(method, name, rt, length)
    if err:
        stats.log_error(method, name, _stats_ops.make_error(err[0], err[1], CatchResponseError))

json.dump(_stats_ops.run(S, feed), sys.stdout)
"""


@pytest.fixture(scope="module")
def locust_report():
    out = subprocess.run([sys.executable, "-c", _LOCUST_SIDE, HERE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def own_stats():
    """A fresh process-wide RequestStats for the test; the previous one and the module's
    clock and widths are put back afterwards."""
    saved = (_runtime._stats, S.time, S.STATS_NAME_WIDTH, S.STATS_AUTORESIZE)
    yield
    _runtime._stats, S.time, S.STATS_NAME_WIDTH, S.STATS_AUTORESIZE = saved


@pytest.fixture
def stampede_report(own_stats):
    def feed(stats, method, name, rt, length, err):
        assert stats is _runtime.stats()
        text = S.parse_error(_stats_ops.make_error(err[0], err[1], CatchResponseError)) if err else None
        _runtime.on_request_recorded(method, name, rt, length, text)

    real_request_stats = S.RequestStats

    def request_stats(*a, **kw):  # _stats_ops builds the stats: make it the process's
        s = real_request_stats(*a, **kw)
        _runtime.set_stats(s)
        return s

    S.RequestStats = request_stats
    try:
        return json.loads(json.dumps(_stats_ops.run(S, feed)))
    finally:
        S.RequestStats = real_request_stats


def _catch_keys(report):
    return {k for k, e in report["errors"].items() if e["error"].startswith("CatchResponseError(")}


@pytest.mark.parametrize("phase", [0, 1, 2, 3, 4])
def test_every_number_matches_locust(locust_report, stampede_report, phase):
    theirs, mine = locust_report[phase], stampede_report[phase]
    if "entries" in theirs:
        assert theirs["entries"].keys() == mine["entries"].keys()
        for key in theirs["entries"]:
            assert mine["entries"][key] == theirs["entries"][key], key
        assert mine["total"] == theirs["total"]
        for key in ("counts", "errors", "error_dicts", "summary", "percentile_summary", "history", "readable", "calc", "diff"):
            assert mine[key] == theirs[key], key
        # to_name: Locust (one process) names the live exception; ours its key text, so an
        # object's address is blanked and a CatchResponseError keeps its quotes (asserted below)
        catch = _catch_keys(theirs)
        assert {k: v for k, v in mine["error_names"].items() if k not in catch} == {
            k: S.parse_error(v) for k, v in theirs["error_names"].items() if k not in catch
        }
        quoted = ("bad body", "quoted")
        assert [l.rstrip() for l in mine["error_summary"] if not any(q in l for q in quoted)] == [
            S.parse_error(l).rstrip() for l in theirs["error_summary"] if not any(q in l for q in quoted)
        ]
    else:
        assert mine == theirs


def test_the_phases_really_count(locust_report):
    """Guards the comparison itself: numbers are there, failures of every kind, None times."""
    first = locust_report[0]
    assert first["total"]["num_requests"] == 185 and first["total"]["num_none_requests"] > 0
    assert len(first["errors"]) >= 10 and first["total"]["num_failures"] > 30
    assert any(e["response_times"] for e in first["entries"].values())
    assert first["total"]["current_percentiles"] != [None, None, None]


def test_catch_response_error_name_is_locusts_text_branch(locust_report, stampede_report):
    """Known difference: Locust (one process) keeps the exception and unwraps its message;
    the engine hands over the key text, which ``to_name`` unwraps as Locust does for text
    (as its master does with its workers' errors): the repr's quotes stay."""
    theirs, mine = locust_report[0], stampede_report[0]
    for key in _catch_keys(theirs):
        t, m = theirs["error_names"][key], mine["error_names"][key]
        method_name, _, msg = t.partition(": ")
        assert m == f"{method_name}: {msg!r}"


def test_runner_and_environment_stats_are_the_process_stats(own_stats):
    from stampede.compat.env import Environment
    from stampede.compat.runners import LocalRunner

    _runtime.set_stats(None)
    env = Environment()
    runner = env._create_runner(LocalRunner)
    assert env.stats is runner.stats is _runtime.stats()
    _runtime.on_request_recorded("GET", "/", 10.0, 5, None)
    _runtime.on_request_recorded("GET", "/", 30.0, 7, "HTTPError('500 Server Error: x for url: /')")
    _runtime.on_request_recorded("GET", "/", None, 0, None)
    assert runner.stats.total.num_requests == 3 and runner.stats.num_failures == 1
    entry = runner.stats.get("/", "GET")
    assert entry.fail_ratio == 1 / 3 and entry.get_response_time_percentile(0.95) == 30
    assert entry.avg_response_time == 20.0 and entry.num_none_requests == 1 and entry.avg_content_length == 4
    [err] = runner.stats.errors.values()
    assert err.error == "HTTPError('500 Server Error: x for url: /')" and err.occurrences == 1
    replacement = S.RequestStats()
    env.stats = replacement
    assert _runtime.stats() is replacement and runner.stats is replacement
    _runtime.reset_stats()


def test_events_request_fire_counts_without_engine(own_stats):
    from stampede.compat.event import Events

    _runtime.set_stats(None)
    ev = Events()
    ev.request.fire(request_type="X", name="custom", response_time=3, response_length=2, exception=ValueError("v"), context={})
    e = _runtime.stats().get("custom", "X")
    assert (e.num_requests, e.num_failures) == (1, 1)
    assert [x.error for x in _runtime.stats().errors.values()] == ["ValueError('v')"]


def test_stats_printer_prints_the_table(own_stats, caplog, monkeypatch):
    import gevent

    _runtime.set_stats(None)
    _runtime.on_request_recorded("GET", "/p", 10.0, 5, None)
    monkeypatch.setattr(S, "CONSOLE_STATS_INTERVAL_SEC", 0.01)
    with caplog.at_level("INFO", logger="locust.stats_logger"):
        g = gevent.spawn(S.stats_printer(_runtime.stats()))
        gevent.sleep(0.05)
        g.kill()
    rows = [r.getMessage() for r in caplog.records if r.name == "locust.stats_logger"]
    assert sum(1 for r in rows if r.startswith("Type")) >= 2
    assert any(r.startswith("GET ") and "/p" in r for r in rows) and any("Aggregated" in r for r in rows)


def test_stats_history_loops_while_running_and_exits_without_cache(own_stats, monkeypatch):
    import gevent
    from types import SimpleNamespace

    _runtime.set_stats(None)
    monkeypatch.setattr(S, "HISTORY_STATS_INTERVAL_SEC", 0.01)
    runner = SimpleNamespace(stats=_runtime.stats(), state="running", user_count=2)
    g = gevent.spawn(S.stats_history, runner)
    gevent.sleep(0.05)
    g.kill()
    assert runner.stats.history and runner.stats.history[0]["user_count"][1] == 2
    runner.stats = S.RequestStats(use_response_times_cache=False)
    S.stats_history(runner)  # returns at once, as Locust's does


def test_on_request_recorded_is_cheap(own_stats):
    """The engine calls it for every request; measured here so a regression shows."""
    _runtime.set_stats(None)
    f = _runtime.on_request_recorded
    f("GET", "/t", 12.3, 100, None)
    n = 20000
    ok = timeit.timeit(lambda: f("GET", "/t", 12.3, 100, None), number=n) / n
    err = timeit.timeit(lambda: f("GET", "/t", 12.3, 100, "HTTPError('x')"), number=n) / n
    print(f"on_request_recorded: {ok * 1e6:.2f} us (success), {err * 1e6:.2f} us (failure)")
    assert ok < 20e-6 and err < 40e-6  # ~1.5 / ~2.3 us on the dev machine; generous for CI
