"""One sequence of requests fed to a ``locust.stats`` module, and everything it then reports.

Imported by ``test_stats.py`` (with ``stampede.compat.stats``, fed through
``stampede._runtime.on_request_recorded`` as the engine feeds it) and by a subprocess that
runs real Locust 2.47 (``locust.stats``, fed as Locust's runner feeds it: ``log_request``,
then ``log_error`` with the exception). It imports neither. The clock is a fake one that moves
only between requests, so the per-second fields and the response-time cache agree exactly.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

START = 1_700_000_000.25
CLOCK = [START]

#: Response times around every bucket edge, None (Locust's num_none_requests) and ties.
EDGES = [0, 0.4, 0.5, 1.5, 2.5, 12.345, 99.4, 99.5, 100, 104.999, 105, 145, 147, 155, 994, 995,
         999.9, 1000, 1050, 1150, 3432, 9949, 9950, 9999, 10000, 10500, 11500, 58760, None]
NAMES = [("GET", "/a"), ("POST", "/a"), ("GET", "/b?x=1"), ("PUT", "/c"), ("GET", "/a")]


class _Thing:
    """An object whose repr carries an address (``parse_error`` blanks it)."""


def make_error(kind, msg, catch_response_error):
    if kind == "catch":
        return catch_response_error(msg)
    if kind == "refused":
        return ConnectionRefusedError(111, "Connection refused")
    if kind == "obj":
        return RuntimeError(_Thing())
    return ValueError(msg)


def ops(seed=7, n=300):
    """[("t", clock)] and [("req", method, name, response_time, length, error_spec|None)]."""
    rnd = random.Random(seed)
    out, clock = [], START
    for i in range(n):
        if i % 13 == 0:
            clock += rnd.choice([0.3, 1.0, 2.7, 0.01, 4.0])
            out.append(("t", clock))
        method, name = rnd.choice(NAMES)
        rt = EDGES[i % len(EDGES)] if i < 2 * len(EDGES) else rnd.choice([rnd.uniform(0, 200), rnd.randint(0, 3000), None])
        err = None
        if rnd.random() < 0.25:
            err = rnd.choice([("catch", "bad body"), ("catch", "it's \"quoted\""), ("refused", ""), ("obj", ""), ("value", "x")])
        out.append(("req", method, name, rt, rnd.randint(0, 5000), err))
    return out


def _entry(e, S):
    d = dict(e.serialize())
    d.update(
        fail_ratio=e.fail_ratio,
        avg_response_time=e.avg_response_time,
        median_response_time=e.median_response_time,
        current_rps=e.current_rps,
        current_fail_per_sec=e.current_fail_per_sec,
        total_rps=e.total_rps,
        total_fail_per_sec=e.total_fail_per_sec,
        avg_content_length=e.avg_content_length,
        percentiles=[e.get_response_time_percentile(p) for p in S.PERCENTILES_TO_REPORT],
        current_percentiles=[e.get_current_response_time_percentile(p) for p in (0.5, 0.95, 1.0)],
        to_dict=e.to_dict(),
        row_current=e.to_string(current=True),
        row_total=e.to_string(current=False),
        percentile_row=e.percentile() if e.num_requests else None,
    )
    return d


def report(S, stats):
    """Every number and text a locustfile or a console could read."""
    runner = SimpleNamespace(stats=stats, user_count=3)
    S.update_stats_history(runner, timestamp="2023-11-14T22:13:20Z")
    return {
        "entries": {f"{k[1]} {k[0]}": _entry(e, S) for k, e in sorted(stats.entries.items())},
        "total": _entry(stats.total, S),
        "counts": [stats.num_requests, stats.num_none_requests, stats.num_failures, stats.last_request_timestamp, stats.start_time],
        "errors": stats.serialize_errors(),
        "error_dicts": {k: e.to_dict() for k, e in stats.errors.items()},
        "error_names": {k: e.to_name() for k, e in stats.errors.items()},
        "summary": S.get_stats_summary(stats, True) + S.get_stats_summary(stats, False),
        "percentile_summary": S.get_percentile_stats_summary(stats),
        "error_summary": S.get_error_report_summary(stats),
        "history": stats.history,
        "readable": S.get_readable_percentiles(S.PERCENTILES_TO_REPORT),
        "calc": [S.calculate_response_time_percentile({1: 3, 50: 2, 1000: 1}, 6, p) for p in (0, 0.5, 0.66, 0.99, 1.0)],
        "diff": sorted(S.diff_response_time_dicts({1: 3, 50: 2, 7: 1}, {1: 1, 50: 2}).items()),
    }


def run(S, feed):
    """Feeds the ops in phases (then ``reset_all``, ``clear_all``, ``serialize_stats``) and
    reports after each. ``feed(stats, method, name, rt, length, error_spec)`` counts one."""
    S.STATS_AUTORESIZE = False
    S.STATS_NAME_WIDTH = 60
    S.time = SimpleNamespace(time=lambda: CLOCK[0])
    CLOCK[0] = START
    stats = S.RequestStats()
    out = []
    all_ops = ops()
    phases = [all_ops[:200], all_ops[200:260], all_ops[260:]]
    for i, phase in enumerate(phases):
        for op in phase:
            if op[0] == "t":
                CLOCK[0] = op[1]
            else:
                feed(stats, *op[1:])
        CLOCK[0] += 0.5
        out.append(report(S, stats))
        if i == 0:
            stats.reset_all()
        elif i == 1:
            stats.clear_all()
    out.append({"stripped": stats.serialize_stats(), "total_stripped": stats.total.get_stripped_report()})
    out.append(report(S, stats))
    return out
