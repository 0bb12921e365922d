"""What ``HttpSession`` and ``FastHttpSession`` share: their transport, how a finished request
is reported, and how an unsupported option is refused.

Reporting follows Locust's rule that only ``environment.events.request`` feeds the statistics
(its stats listener lives on that hook, ``runners.py:127-132``). In Stampede that hook is a
``RequestEventHook`` whose ``fire`` counts in the engine; the sessions instead count through
their transport (``Transport.record``, which carries the engine's own timing) and then call
``fire_listeners_only``. A session built with any other hook fires it the ordinary way and
counts nothing, as in Locust.
"""

from __future__ import annotations

from stampede import _runtime

from .exception import CatchResponseError, LocustError, ResponseError
from .stats import parse_error


def pick_transport(user):
    """The user's own transport for its first session (the ``client`` that ``HttpUser`` and
    ``FastHttpUser`` build), a fresh one with its own jar for any session built after it."""
    if user is not None and not getattr(user, "_stampede_has_client", False):
        try:
            user._stampede_has_client = True
        except AttributeError:  # a user object that refuses attributes: treat it as taken
            pass
        else:
            return _runtime.user_transport(user)
    return _runtime.session_transport(user)


def counts_in_engine(hook) -> bool:
    """True for ``environment.events.request`` (the hook whose requests feed the stats)."""
    return getattr(hook, "fire_listeners_only", None) is not None


def has_listeners(hook) -> bool:
    """False only when it is certain that firing ``hook`` would call no Python code."""
    return bool(getattr(hook, "_handlers", True))


def error_key(exc):
    """The failure's key text, or None for a success (Locust's ``if exception:``)."""
    return parse_error(exc) if exc else None


def report(hook, transport, raw, meta) -> None:
    """Reports one finished request, once: counts it (stats hook only) and fires the hook.

    ``raw`` is the transport's result; None when nothing was sent (a request refused while it
    was being prepared), which is then counted as a user-reported event.
    """
    only = getattr(hook, "fire_listeners_only", None)
    if only is None:
        hook.fire(**meta)
        return
    method, name, length = meta["request_type"], meta["name"], meta["response_length"]
    if raw is None:
        transport.record_event(method, name, meta["response_time"], length, error_key(meta["exception"]))
    else:
        transport.record(raw, method, name, error_key(meta["exception"]), length)
    if has_listeners(hook):
        only(**meta)


def record_only(transport, raw, method, name, exc, length) -> None:
    """The fast path: counts a request when ``environment.events.request`` has no listener,
    without building the ``request_meta`` dict nobody would read."""
    transport.record(raw, method, name, error_key(exc), length)


def unsupported(what: str) -> LocustError:
    """The error for an option the engine does not provide, named so the user can find it."""
    return LocustError(f"unsupported API: {what} (Stampede's Python front does not provide it)")


def merge_context(user, context):
    """``{**user.context(), **context}`` when there is a user, as both sessions do."""
    if user:
        return {**user.context(), **context}
    return context


_NOT_MADE = (
    "Tried to set status on a request that has not yet been made. Make sure you use a with-block, "
    "like this:\n\nwith self.client.request(..., catch_response=True) as response:\n    response.{}"
)
_WITH_BLOCK = "In order to use a with-block for requests, you must also pass catch_response=True"


class CatchResponse:
    """``with ... catch_response=True as response:``, as both of Locust's
    ``ResponseContextManager``s judge it (``clients.py:387-431``, ``fasthttp.py:680-706``
    agree on it): ``success()`` or ``failure()`` in the block decide; a ``ResponseError``
    raised in it is the failure; any other exception goes on unreported; with neither, the
    session's own status rule (``_default_verdict``) decides. A session's response class
    provides ``_default_verdict`` and ``_report_request`` and sets ``_catch_response``,
    ``_entered``, ``_manual_result`` and ``request_meta``."""

    __slots__ = ()

    def __enter__(self):
        if not self._catch_response:
            raise LocustError(_WITH_BLOCK)
        self._entered = True
        return self

    def __exit__(self, exc, value, traceback):
        if self._manual_result is not None:
            if self._manual_result is True:
                self.request_meta["exception"] = None
            elif isinstance(self._manual_result, Exception):
                self.request_meta["exception"] = self._manual_result
            self._report_request()
            return exc is None
        if exc:
            if isinstance(value, ResponseError):
                self.request_meta["exception"] = value
                self._report_request()
            else:
                return False
        else:
            self._default_verdict()
        return True

    def success(self):
        """Report the response as successful (only inside the ``with`` block)."""
        if not self._entered:
            raise LocustError(_NOT_MADE.format("success()"))
        self._manual_result = True

    def failure(self, exc):
        """Report the response as a failure; a non-exception is wrapped in CatchResponseError."""
        if not self._entered:
            raise LocustError(_NOT_MADE.format("failure(...)"))
        if not isinstance(exc, Exception):
            exc = CatchResponseError(exc)
        self._manual_result = exc
