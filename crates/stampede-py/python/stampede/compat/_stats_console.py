"""``locust.stats``' console tables and history (``print_stats``, ``stats_printer``,
``stats_history`` and the rest), apart from the statistics themselves (``stats.py``).

They read ``locust.stats``' settings (``STATS_NAME_WIDTH``, ``PERCENTILES_TO_REPORT``, the
intervals) from that module at each call, as Locust's read its own globals: a locustfile
that sets ``locust.stats.PERCENTILES_TO_REPORT`` changes what they print.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import gevent

from . import stats as _s

def avg(values) -> float:
    return sum(values, 0.0) / max(len(values), 1)


def _autoresize():
    """Re-reads the terminal width before a table is printed (Locust does it on SIGWINCH)."""
    if _s.STATS_AUTORESIZE:
        _s.STATS_NAME_WIDTH = _s._terminal_name_width(_s.STATS_NAME_WIDTH)


def print_stats(stats, current=True) -> None:
    for line in get_stats_summary(stats, current):
        _s.console_logger.info(line)
    _s.console_logger.info("")


def print_stats_json(stats) -> None:
    print(json.dumps(stats.serialize_stats(), indent=4))


def get_stats_summary(stats, current=True):
    """The request table, one string per line, as Locust prints it."""
    _autoresize()
    name_column_width = (_s.STATS_NAME_WIDTH - _s.STATS_TYPE_WIDTH) + 4  # saved characters by compacting other columns
    summary = [
        ("%-" + str(_s.STATS_TYPE_WIDTH) + "s %-" + str(name_column_width) + "s %7s %12s |%7s %7s %7s%7s | %7s %11s")
        % ("Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s")
    ]
    separator = f"{'-' * _s.STATS_TYPE_WIDTH}|{'-' * (name_column_width)}|{'-' * 7}|{'-' * 13}|{'-' * 7}|{'-' * 7}|{'-' * 7}|{'-' * 7}|{'-' * 8}|{'-' * 11}"
    summary.append(separator)
    for key in sorted(stats.entries.keys()):
        summary.append(stats.entries[key].to_string(current=current))
    summary.append(separator)
    summary.append(stats.total.to_string(current=current))
    return summary


def print_percentile_stats(stats) -> None:
    for line in get_percentile_stats_summary(stats):
        _s.console_logger.info(line)
    _s.console_logger.info("")


def get_percentile_stats_summary(stats):
    """The percentile table, one string per line."""
    _autoresize()
    summary = ["Response time percentiles (approximated)"]
    headers = ("Type", "Name", *tuple(_s.get_readable_percentiles(_s.PERCENTILES_TO_REPORT)), "# reqs")
    summary.append(
        f"%-{_s.STATS_TYPE_WIDTH!s}s %-{_s.STATS_NAME_WIDTH!s}s %8s {' '.join(['%6s'] * len(_s.PERCENTILES_TO_REPORT))}"
        % headers
    )
    separator = (
        f"{'-' * _s.STATS_TYPE_WIDTH}|{'-' * _s.STATS_NAME_WIDTH}|{'-' * 8}|{('-' * 6 + '|') * len(_s.PERCENTILES_TO_REPORT)}"
    )[:-1]
    summary.append(separator)
    for key in sorted(stats.entries.keys()):
        r = stats.entries[key]
        if r.response_times:
            summary.append(r.percentile())
    summary.append(separator)
    if stats.total.response_times:
        summary.append(stats.total.percentile())
    return summary


def print_error_report(stats) -> None:
    if stats.errors:
        for line in get_error_report_summary(stats):
            _s.console_logger.info(line)


def get_error_report_summary(stats):
    summary = ["Error report", f"{'# occurrences':18} {'Error':100}"]
    separator = f"{'-' * 18}|{'-' * ((80 + _s.STATS_NAME_WIDTH) - 19)}"
    summary.append(separator)
    summary.extend("%-18i %-100s" % (error.occurrences, error.to_name()) for error in stats.errors.values())
    summary.append(separator)
    summary.append("")
    return summary


def stats_printer(stats):
    """A function for ``gevent.spawn`` that prints ``stats``' table every
    ``_s.CONSOLE_STATS_INTERVAL_SEC`` (read at each round, so a file may change it)."""

    def stats_printer_func() -> None:
        try:
            while True:
                print_stats(stats)
                gevent.sleep(_s.CONSOLE_STATS_INTERVAL_SEC)
        except KeyboardInterrupt as e:
            _s.logger.debug(e, exc_info=True)

    return stats_printer_func


def sort_stats(stats):
    return [stats[key] for key in sorted(stats.keys())]


def _utc_timestamp(unix_timestamp) -> str:
    return datetime.fromtimestamp(int(unix_timestamp), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def update_stats_history(runner, timestamp=None) -> None:
    """Appends one point (current percentiles, rates, users) to ``runner.stats.history``."""
    stats = runner.stats
    timestamp = timestamp or _utc_timestamp(time.time())
    current_response_time_percentiles = {
        f"response_time_percentile_{percentile}": [
            timestamp,
            stats.total.get_current_response_time_percentile(percentile) or 0,
        ]
        for percentile in _s.PERCENTILES_TO_CHART
    }
    stats.history.append(
        {
            **current_response_time_percentiles,
            "current_rps": [timestamp, stats.total.current_rps or 0],
            "current_fail_per_sec": [timestamp, stats.total.current_fail_per_sec or 0],
            "total_avg_response_time": [timestamp, _s.proper_round(stats.total.avg_response_time, digits=2)],
            "user_count": [timestamp, runner.user_count or 0],
            "time": timestamp,
        }
    )


def stats_history(runner) -> None:
    """Save current stats info to history (``stats.history``) every 5 s while a test runs.
    Stampede's UI and report keep their own history; this one is for scripts that read it."""
    try:
        while True:
            if not runner.stats.total.use_response_times_cache:
                break
            if runner.state != "ready" and runner.state != "stopped":
                update_stats_history(runner)
            gevent.sleep(_s.HISTORY_STATS_INTERVAL_SEC)
    except KeyboardInterrupt as e:
        _s.logger.debug(e, exc_info=True)
