"""``locust.event``: ``EventHook``, ``DeprecatedEventHook`` and ``Events``, as in Locust 2.47.

One difference is built in: the ``request`` hook of every ``Events`` is a ``RequestEventHook``
whose ``fire`` first counts the request in the engine's statistics (Locust does that with the
runner's own listener, ``runners.py:127-132``), then calls the Python listeners. The sessions,
whose requests Rust has already counted, call ``fire_listeners_only`` instead.
"""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import contextmanager

from stampede import _runtime

from .exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopTest, StopUser
from .stats import parse_error

#: Exceptions a listener may raise on purpose (a request handler ending a task or user).
_PASS_THROUGH = (StopUser, StopTest, RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet)


def _call_listener(handler, kwargs):
    """Calls one listener with Locust's rules: control-flow exceptions go through, any other
    is logged on the root logger and marks the process for exit code 2."""
    try:
        handler(**kwargs)
    except _PASS_THROUGH:
        raise
    except Exception:
        logging.error("Uncaught exception in event handler: \n%s", traceback.format_exc())
        _runtime.note_unhandled_exception()


class EventHook:
    """
    Simple event class used to provide hooks for different types of events in Locust.

    Here's how to use the EventHook class::

        my_event = EventHook()
        def on_my_event(a, b, **kw):
            print("Event was fired with arguments: %s, %s" % (a, b))
        my_event.add_listener(on_my_event)
        my_event.fire(a="foo", b="bar")

    If reverse is True, then the handlers will run in the reverse order
    that they were inserted
    """

    def __init__(self):
        self._handlers = []

    def add_listener(self, handler):
        self._handlers.append(handler)
        return handler

    def remove_listener(self, handler):
        self._handlers.remove(handler)

    def __iadd__(self, handler):
        """Locust 0.8's ``events.x += handler``."""
        self.add_listener(handler)
        return self

    def __isub__(self, handler):
        """Locust 0.8's ``events.x -= handler``."""
        self.remove_listener(handler)
        return self

    def fire(self, *, reverse=False, **kwargs):
        # iterate over a copy, so that listeners can add or remove listeners while the event is firing
        handlers = self._handlers[::-1] if reverse else self._handlers.copy()
        for handler in handlers:
            _call_listener(handler, kwargs)

    @contextmanager
    def measure(self, request_type: str, name: str, response_length: int = 0, context=None):
        """Fires the event with the block's duration as ``response_time`` (ms) and, if the block
        raised, the exception (which is swallowed), as Locust's ``EventHook.measure`` does."""
        start_time = time.time()
        start_perf_counter = time.perf_counter()
        request_meta = {
            "request_type": request_type,
            "name": name,
            "response_length": response_length,
            "context": context or {},
            "exception": None,
            "start_time": start_time,
        }
        try:
            yield request_meta
        except Exception as e:
            request_meta["exception"] = e
        finally:
            request_meta["response_time"] = (time.perf_counter() - start_perf_counter) * 1000
            self.fire(**request_meta)


class DeprecatedEventHook(EventHook):
    def __init__(self, message):
        self.message = message
        super().__init__()

    def add_listener(self, handler):
        logging.warning(self.message)
        return super().add_listener(handler)


def _record_in_engine(request_type, name, response_time, response_length, exception=None, **_kwargs):
    """The engine's stand-in for Locust's stats listener (same signature, same rule: an error
    row only when ``exception`` is truthy)."""
    error = parse_error(exception) if exception else None
    _runtime.record_event(request_type, name, response_time, response_length, error)


class RequestEventHook(EventHook):
    """``events.request``: fired by user code, it also counts the request in the engine."""

    def fire(self, *, reverse=False, **kwargs):
        _call_listener(_record_in_engine, kwargs)
        super().fire(reverse=reverse, **kwargs)

    def fire_listeners_only(self, *, reverse=False, **kwargs):
        """For the sessions: the engine already counted this request; call the Python
        listeners only."""
        super().fire(reverse=reverse, **kwargs)


class Events:
    """All of Locust 2.47's events (see ``locust/event.py`` for each one's arguments)."""

    request: EventHook
    user_error: EventHook
    report_to_master: EventHook
    worker_report: EventHook
    worker_connect: EventHook
    spawning_complete: EventHook
    quitting: EventHook
    quit: EventHook
    init: EventHook
    init_command_line_parser: EventHook
    test_start: EventHook
    test_stopping: EventHook
    test_stop: EventHook
    reset_stats: EventHook
    cpu_warning: EventHook
    heartbeat_sent: EventHook
    heartbeat_received: EventHook
    usage_monitor: EventHook

    def __init__(self):
        # For backward compatibility use also values of class attributes
        for name, value in vars(type(self)).items():
            if value == "EventHook":
                setattr(self, name, EventHook())

        for name, value in self.__annotations__.items():
            if value == "EventHook":
                setattr(self, name, EventHook())

        if not isinstance(getattr(self, "request", None), RequestEventHook):
            self.request = RequestEventHook()
