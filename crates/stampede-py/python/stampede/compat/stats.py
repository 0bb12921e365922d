"""``locust.stats``: ``RequestStats``, ``StatsEntry``, ``StatsError`` and the console helpers,
following Locust 2.47 (``locust/stats.py``) field by field.

Why a full Python copy when Rust keeps the run's statistics: locustfiles read them while the
test runs (``environment.stats.total.fail_ratio`` in a ``quitting`` listener, a task checking
``runner.stats.get("/", "GET").num_requests``, a library script's ``stats_printer``), and the
numbers must be Locust's to the rounding. The engine feeds this module's process-wide
``RequestStats`` (``stampede._runtime.stats()``) through ``_runtime.on_request_recorded``
once per recorded request, so a read here never waits on Rust.

Two differences from Locust, both because the engine hands over text, not objects:

- ``StatsError.error`` is the failure's key text (``parse_error(exception)``), never the
  exception object. The key, ``to_name()`` (Locust's string branch) and ``serialize()``
  come out as Locust computes them from that text.
- ``RequestStats.log_request`` takes the time once for the two entries it updates
  (Locust reads the clock once per entry); the fields come out the same.

Not provided: ``StatsCSV``/``StatsCSVFileWriter`` (the engine writes ``--csv``), ``extend`` and the distributed
listeners (``setup_distributed_stats_event_listeners``: the engine moves worker stats) and the
SIGWINCH handler (the console table width is re-read at each print instead).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import OrderedDict, defaultdict, namedtuple
from copy import copy

from .exception import CatchResponseError

console_logger = logging.getLogger("locust.stats_logger")
logger = logging.getLogger("locust.stats")


def _terminal_name_width(default=80) -> int:
    try:
        return max(min(os.get_terminal_size()[0] - 80, 80), 0)
    except OSError:  # not a real terminal
        return default


#: Space in table for request name. Auto shrink it if terminal is small (<160 characters)
STATS_NAME_WIDTH = _terminal_name_width()
STATS_AUTORESIZE = True  # overwrite this if you dont want auto resize while running
STATS_TYPE_WIDTH = 8

#: Default interval for how frequently results are written to console (files may set it).
CONSOLE_STATS_INTERVAL_SEC = 2
#: Default interval for how frequently results are written to history.
HISTORY_STATS_INTERVAL_SEC = 5
CSV_STATS_INTERVAL_SEC = 1
CSV_STATS_FLUSH_INTERVAL_SEC = 5
#: Window (seconds) of the *current* response time percentiles.
CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW = 10

CachedResponseTimes = namedtuple("CachedResponseTimes", ["response_times", "num_requests", "num_none_requests"])

PERCENTILES_TO_REPORT = [0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0]
PERCENTILES_TO_STATISTICS = [0.95, 0.99]
PERCENTILES_TO_CHART = [0.5, 0.95]

#: The keys of ``StatsEntry.serialize()`` (Locust's ``StatsEntryDict``), in Locust's order.
_ENTRY_KEYS = (
    "name", "method", "last_request_timestamp", "start_time", "num_requests", "num_none_requests",
    "num_failures", "total_response_time", "max_response_time", "min_response_time",
    "total_content_length", "response_times", "num_reqs_per_sec", "num_fail_per_sec",
)
_ERROR_KEYS = ("name", "method", "error", "occurrences", "first_seen", "last_seen")


def bucket_response_time(response_time):
    """Rounds a response time to ~2 significant digits (147 -> 150, 3432 -> 3400, 58760 ->
    59000), as Locust keys ``response_times``. Looked up at each call, so a locustfile may
    replace it (Locust documents that)."""
    if response_time < 100:
        return round(response_time)
    elif response_time < 1000:
        return int(round(response_time, -1))
    elif response_time < 10000:
        return int(round(response_time, -2))
    else:
        return int(round(response_time, -3))


def proper_round(val, digits=0):
    """``locust.util.rounding.proper_round`` (rounds half up where ``round`` rounds to even)."""
    float_val = float(val)
    return round(float_val + 10 ** (-len(str(float_val)) - 1), digits)


def get_readable_percentiles(percentile_list):
    """0.95 -> "95%", 0.999 -> "99.9%"."""
    return [
        f"{int(percentile * 100) if (percentile * 100).is_integer() else round(100 * percentile, 6)}%"
        for percentile in percentile_list
    ]


def calculate_response_time_percentile(response_times, num_requests, percent):
    """The response time that ``percent`` (0.0-1.0) of the ``num_requests`` requests counted in
    ``response_times`` (a ``StatsEntry.response_times`` dict) finished within."""
    num_of_request = int(num_requests * percent)

    processed_count = 0
    for response_time in sorted(response_times.keys(), reverse=True):
        processed_count += response_times[response_time]
        if num_requests - processed_count <= num_of_request:
            return response_time
    # if all response times were None
    return 0


def diff_response_time_dicts(latest, old):
    """The delta between two {response_time: request_count} dicts."""
    new = {}
    for t in latest:
        if diff := latest[t] - old.get(t, 0):
            new[t] = diff
    return new


def parse_error(error) -> str:
    """``repr(error)`` (or the string itself) with the first ``object at 0x...`` address
    blanked to ``0x....``, so that errors differing only by an object's id share one row.
    The sessions send this text to the engine as the error's key."""
    if isinstance(error, str):
        string_error = error
    else:
        string_error = repr(error)
    target = "object at 0x"
    target_index = string_error.find(target)
    if target_index < 0:
        return string_error
    start = target_index + len(target) - 2
    end = string_error.find(">", start)
    if end < 0:
        return string_error
    hex_address = string_error[start:end]
    return string_error.replace(hex_address, "0x....")


class EntriesDict(dict):
    """``stats.entries``: creates the entry of a (name, method) key on first access."""

    def __init__(self, request_stats):
        self.request_stats = request_stats

    def __missing__(self, key):
        self[key] = StatsEntry(
            self.request_stats, key[0], key[1], use_response_times_cache=self.request_stats.use_response_times_cache
        )
        return self[key]


class RequestStats:
    """Class that holds the request statistics. Accessible in a User from self.environment.stats"""

    def __init__(self, use_response_times_cache=True) -> None:
        self.use_response_times_cache = use_response_times_cache
        self.entries = EntriesDict(self)
        self.errors = {}
        self.total = StatsEntry(self, "Aggregated", "", use_response_times_cache=self.use_response_times_cache)
        self.history = []
        self._error_keys = {}  # (method, name, error text) -> StatsError.create_key(...)

    @property
    def num_requests(self):
        return self.total.num_requests

    @property
    def num_none_requests(self):
        return self.total.num_none_requests

    @property
    def num_failures(self):
        return self.total.num_failures

    @property
    def last_request_timestamp(self):
        return self.total.last_request_timestamp

    @property
    def start_time(self):
        return self.total.start_time

    def log_request(self, method, name, response_time, content_length) -> None:
        """Counts one request in the total and in its (name, method) entry. On the engine's
        hot path (every request): one clock read, no method calls besides the bucket."""
        now = time.time()
        self.total._log_at(response_time, content_length, now)
        self.entries[(name, method)]._log_at(response_time, content_length, now)

    def log_error(self, method, name, error) -> None:
        """Counts one failure; ``error`` is an exception or (from the engine) its key text.
        Locust's ``StatsEntry.log_error`` twice and ``StatsError.occurred``, inlined with one
        clock read; a text's sha256 key is computed once (the engine's path, per failure)."""
        now = time.time()
        t = int(now)
        for e in (self.total, self.entries[(name, method)]):
            e.num_failures += 1
            e.num_fail_per_sec[t] += 1

        # store error in errors dict
        if type(error) is str:
            key = self._error_keys.get((method, name, error))
            if key is None:
                key = self._error_keys[(method, name, error)] = StatsError.create_key(method, name, error)
        else:
            key = StatsError.create_key(method, name, error)
        entry = self.errors.get(key)
        if not entry:
            entry = StatsError(method, name, error)
            self.errors[key] = entry
        entry.occurrences += 1
        if entry.first_seen is None:
            entry.first_seen = now
        entry.last_seen = now

    def get(self, name, method):
        """Retrieve a StatsEntry instance by name and method"""
        return self.entries[(name, method)]

    def reset_all(self) -> None:
        """Go through all stats entries and reset them to zero"""
        self.total.reset()
        self.errors = {}
        self._error_keys = {}
        for r in self.entries.values():
            r.reset()
        self.history = []

    def clear_all(self) -> None:
        """Remove all stats entries and errors"""
        self.total = StatsEntry(self, "Aggregated", "", use_response_times_cache=self.use_response_times_cache)
        self.entries = EntriesDict(self)
        self.errors = {}
        self._error_keys = {}
        self.history = []

    def serialize_stats(self):
        return [
            e.get_stripped_report() for e in self.entries.values() if not (e.num_requests == 0 and e.num_failures == 0)
        ]

    def serialize_errors(self):
        return {k: e.serialize() for k, e in self.errors.items()}


class StatsEntry:
    """Represents a single stats entry (name and method)"""

    def __init__(self, stats, name, method, use_response_times_cache=False):
        self.stats = stats
        self.name = name  # Name (URL) of this stats entry
        self.method = method  # Method (GET, POST, PUT, etc.)
        # keep a copy of ``response_times`` per second, for the *current* percentiles
        self.use_response_times_cache = use_response_times_cache
        self.response_times_cache = None
        self.reset()

    def reset(self):
        """Zeroes every number; ``start_time`` becomes now. The fields: counts of requests,
        of requests without a response time (``None``) and of failures; the sum, min and max
        of response times; ``response_times`` ({bucketed ms: count}, ``bucket_response_time``);
        ``num_reqs_per_sec``/``num_fail_per_sec`` ({unix second: count}); the sum of content
        lengths; the time of the last request."""
        self.start_time = time.time()
        self.num_requests = 0
        self.num_none_requests = 0
        self.num_failures = 0
        self.total_response_time = 0
        self.response_times = defaultdict(int)
        self.min_response_time = None
        self.max_response_time = 0
        self.last_request_timestamp = None
        self.num_reqs_per_sec = defaultdict(int)
        self.num_fail_per_sec = defaultdict(int)
        self.total_content_length = 0
        if self.use_response_times_cache:
            self.response_times_cache = OrderedDict()
            self._cache_response_times(int(time.time()))

    def log(self, response_time, content_length) -> None:
        self._log_at(response_time, content_length, time.time())

    def _log_at(self, response_time, content_length, current_time) -> None:
        """``log`` at a given wall-clock time (Locust's ``log``, its two helpers inlined)."""
        t = int(current_time)
        last = self.last_request_timestamp
        if self.use_response_times_cache and last and t > int(last):
            # see if we shall make a copy of the response_times dict and store in the cache
            self._cache_response_times(t - 1)

        self.num_requests += 1
        self.num_reqs_per_sec[t] += 1
        self.last_request_timestamp = current_time
        if response_time is None:
            self.num_none_requests += 1
        else:
            self.total_response_time += response_time
            low = self.min_response_time
            if low is None or response_time < low:  # min() keeps the first of equals, so do we
                self.min_response_time = response_time
            if response_time > self.max_response_time:
                self.max_response_time = response_time
            self.response_times[bucket_response_time(response_time)] += 1
        self.total_content_length += content_length

    def log_error(self, error) -> None:
        self.num_failures += 1
        t = int(time.time())
        self.num_fail_per_sec[t] += 1

    @property
    def fail_ratio(self) -> float:
        try:
            return float(self.num_failures) / self.num_requests
        except ZeroDivisionError:
            return 1.0 if self.num_failures > 0 else 0.0

    @property
    def avg_response_time(self) -> float:
        try:
            return float(self.total_response_time) / (self.num_requests - self.num_none_requests)
        except ZeroDivisionError:
            return 0.0

    @property
    def median_response_time(self):
        if not self.response_times:
            return 0
        median = (
            calculate_response_time_percentile(self.response_times, self.num_requests - self.num_none_requests, 0.5)
            or 0
        )
        # the median is bucketed (two digits), min and max are exact: keep it between them
        if median > self.max_response_time:
            median = self.max_response_time
        elif self.min_response_time is not None and median < self.min_response_time:
            median = self.min_response_time
        return median

    def _current_slice(self, per_sec):
        last = self.stats.last_request_timestamp
        if last is None:
            return 0
        slice_start_time = max(int(last) - 12, int(self.stats.start_time or 0))
        return avg([per_sec.get(t, 0) for t in range(slice_start_time, int(last) - 2)])

    @property
    def current_rps(self) -> float:
        return self._current_slice(self.num_reqs_per_sec)

    @property
    def current_fail_per_sec(self):
        return self._current_slice(self.num_fail_per_sec)

    @property
    def total_rps(self):
        if not self.stats.last_request_timestamp or not self.stats.start_time:
            return 0.0
        try:
            return self.num_requests / (self.stats.last_request_timestamp - self.stats.start_time)
        except ZeroDivisionError:
            return 0.0

    @property
    def total_fail_per_sec(self):
        if not self.stats.last_request_timestamp or not self.stats.start_time:
            return 0.0
        try:
            return self.num_failures / (self.stats.last_request_timestamp - self.stats.start_time)
        except ZeroDivisionError:
            return 0.0

    @property
    def avg_content_length(self):
        try:
            return self.total_content_length / self.num_requests
        except ZeroDivisionError:
            return 0

    def serialize(self):
        return {key: getattr(self, key, None) for key in _ENTRY_KEYS}

    @classmethod
    def unserialize(cls, data, stats):
        """Return the unserialzed version of the specified dict"""
        obj = cls(stats, data["name"], data["method"])
        for key, value in data.items():
            if key in ["name", "method"] or key not in _ENTRY_KEYS:
                continue
            setattr(obj, key, value)
        return obj

    def get_stripped_report(self):
        """Return the serialized version of this StatsEntry, and then clear the current stats."""
        report = self.serialize()
        self.reset()
        return report

    def to_string(self, current=True) -> str:
        """One console row; ``current`` shows the last ~10 s rates, else the whole run's."""
        if current:
            rps = self.current_rps
            fail_per_sec = self.current_fail_per_sec
        else:
            rps = self.total_rps
            fail_per_sec = self.total_fail_per_sec
        row = f"%-{STATS_TYPE_WIDTH}s %-{STATS_NAME_WIDTH - STATS_TYPE_WIDTH + 4}s %7d %12s |%7d %7d %7d%7d | %7.2f %11.2f"
        return row % (
            ((self.method and self.method + " ") or ""),
            self.name,
            self.num_requests,
            "%d(%.2f%%)" % (self.num_failures, self.fail_ratio * 100),
            self.avg_response_time,
            self.min_response_time or 0,
            self.max_response_time,
            self.median_response_time or 0,
            rps or 0,
            fail_per_sec or 0,
        )

    def __str__(self) -> str:
        return self.to_string(current=True)

    def get_response_time_percentile(self, percent):
        """
        Get the response time that a certain number of percent of the requests
        finished within. Percent specified in range: 0.0 - 1.0
        """
        return calculate_response_time_percentile(
            self.response_times, self.num_requests - self.num_none_requests, percent
        )

    def get_current_response_time_percentile(self, percent):
        """The percentile over (about) the last 10 seconds, from the per-second copies of
        ``response_times``; None when no copy of about 10 s ago exists (as Locust)."""
        if not self.use_response_times_cache:
            raise ValueError(
                "StatsEntry.use_response_times_cache must be set to True to calculate the _current_ response time percentile"
            )
        t = int(time.time())
        # preferred keys: t-10, then t-11, t-9, t-12, t-8, ...
        acceptable_timestamps = [t - CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW]
        for i in range(1, 9):
            acceptable_timestamps.append(t - CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW - i)
            acceptable_timestamps.append(t - CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW + i)

        cached = None
        if self.response_times_cache is not None:
            for ts in acceptable_timestamps:
                if ts in self.response_times_cache:
                    cached = self.response_times_cache[ts]
                    break

        if cached:
            return calculate_response_time_percentile(
                diff_response_time_dicts(self.response_times, cached.response_times),
                (self.num_requests - self.num_none_requests) - (cached.num_requests - cached.num_none_requests),
                percent,
            )
        return None

    def percentile(self) -> str:
        if not self.num_requests:
            raise ValueError("Can't calculate percentile on url with no successful requests")

        tpl = f"%-{STATS_TYPE_WIDTH!s}s %-{STATS_NAME_WIDTH!s}s %8d {' '.join(['%6d'] * len(PERCENTILES_TO_REPORT))}"

        percentiles = tuple(self.get_response_time_percentile(p) for p in PERCENTILES_TO_REPORT)
        return tpl % (self.method or "", self.name, *percentiles, self.num_requests)

    def _cache_response_times(self, t) -> None:
        if self.response_times_cache is None:
            self.response_times_cache = OrderedDict()

        self.response_times_cache[t] = CachedResponseTimes(
            response_times=copy(self.response_times),
            num_requests=self.num_requests,
            num_none_requests=self.num_none_requests,
        )
        # keep WINDOW + 10 copies: at worst the percentile uses the one of t-WINDOW-10
        cache_size = CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW + 10
        if len(self.response_times_cache) > cache_size:
            for _ in range(len(self.response_times_cache) - cache_size):
                self.response_times_cache.popitem(last=False)

    def to_dict(self, escape_string_values=False):
        response_time_percentiles = {
            f"response_time_percentile_{percentile}": self.get_response_time_percentile(percentile)
            for percentile in PERCENTILES_TO_STATISTICS
        }

        return {
            "method": self.method,
            "name": self.name,
            "num_requests": self.num_requests,
            "num_failures": self.num_failures,
            "min_response_time": 0 if self.min_response_time is None else proper_round(self.min_response_time),
            "max_response_time": proper_round(self.max_response_time),
            "current_rps": self.current_rps,
            "current_fail_per_sec": self.current_fail_per_sec,
            "avg_response_time": self.avg_response_time,
            "median_response_time": self.median_response_time,
            "total_rps": self.total_rps,
            "total_fail_per_sec": self.total_fail_per_sec,
            **response_time_percentiles,
            "avg_content_length": self.avg_content_length,
        }


class StatsError:
    """One row of the failures table. ``error`` is an exception, or (what the engine gives)
    its key text ``parse_error(exception)``; both give the same key and texts."""

    def __init__(self, method, name, error, occurrences=0, first_seen=None, last_seen=None):
        self.method = method
        self.name = name
        self.error = error
        self.occurrences = occurrences
        self.first_seen = first_seen
        self.last_seen = last_seen

    @classmethod
    def parse_error(cls, error) -> str:
        return parse_error(error)

    @classmethod
    def create_key(cls, method, name, error) -> str:
        key = f"{method}.{name}.{parse_error(error)!r}"
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    def occurred(self) -> None:
        self.occurrences += 1
        now = time.time()
        if self.first_seen is None:
            self.first_seen = now
        self.last_seen = now

    def to_name(self) -> str:
        """``METHOD name: error``, with a ``CatchResponseError`` unwrapped (for a text, as
        Locust unwraps it: the repr's quotes stay)."""
        error = self.error
        if isinstance(error, str):
            if error.startswith("CatchResponseError("):
                unwrapped_error = error[len("CatchResponseError(") : -1]
            else:
                unwrapped_error = error
        elif isinstance(error, CatchResponseError):
            unwrapped_error = error.args[0]
        else:
            unwrapped_error = repr(error)
        return f"{self.method} {self.name}: {unwrapped_error}"

    def serialize(self):
        return {key: parse_error(self.error) if key == "error" else getattr(self, key, None) for key in _ERROR_KEYS}

    @classmethod
    def unserialize(cls, data):
        return cls(data["method"], data["name"], data["error"], data["occurrences"], data.get("first_seen"), data.get("last_seen"))

    def to_dict(self):
        return {
            "method": self.method,
            "name": self.name,
            "error": self.parse_error(self.error),
            "occurrences": self.occurrences,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


# The console tables and history live in their own module; they are part of this one's API.
from ._stats_console import (  # noqa: E402
    avg,
    _autoresize,
    print_stats,
    print_stats_json,
    get_stats_summary,
    print_percentile_stats,
    get_percentile_stats_summary,
    print_error_report,
    get_error_report_summary,
    stats_printer,
    sort_stats,
    _utc_timestamp,
    update_stats_history,
    stats_history,
)
