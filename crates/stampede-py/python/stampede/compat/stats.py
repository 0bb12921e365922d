"""``locust.stats`` (in part): the error key text shared by the sessions and ``events.request``.

Rust keeps the statistics. What Python must still compute is the text Locust uses as an
error's key (``StatsError.parse_error``, ``locust/stats.py:737-751``), because the engine
stores that text as given and the failures table and CSVs must match Locust byte for byte.
The stats proxies (``RequestStats``, ``StatsEntry``, ``stats_printer``) belong here too; they
are not written yet.
"""

from __future__ import annotations

from .exception import CatchResponseError

CONSOLE_STATS_INTERVAL_SEC = 2
PERCENTILES_TO_REPORT = [0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0]


def parse_error(error) -> str:
    """``repr(error)`` (or the string itself) with the first ``object at 0x...`` address
    blanked to ``0x....``, so that errors differing only by an object's id share one row."""
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


class StatsError:
    """One row of the failures table, as Locust names it (``locust/stats.py:720-781``)."""

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

    def to_name(self) -> str:
        """``METHOD name: error``, with a ``CatchResponseError`` unwrapped to its message."""
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
