"""``locust.debug``: ``PrintListener`` and ``run_single_user``, as Locust 2.47 (``locust/debug.py``).

``run_single_user(UserClass)`` at the bottom of a locustfile runs one user in this process,
in the calling greenlet (so a debugger's breakpoints stop in the task), and prints one line
per request with Locust's columns. What is Locust's here: the logging set up, the one
``Environment`` kept between calls, ``init`` fired once, ``test_start`` fired per call, the
class's host from ``--host``. The user itself is built and run by
``stampede._runtime.run_single_user``: the engine sends its requests, or without engine
Python does over ``FakeTransport``.

The command line is not Locust's full parser: ``-H``/``--host`` and the locustfile's own
``init_command_line_parser`` arguments are read (unknown ones are ignored), plus
``LOCUST_HOST``/``STAMPEDE_HOST`` from the environment.
"""

from __future__ import annotations

import inspect
import os
import sys
from datetime import datetime, timezone

from stampede import _runtime

from . import log as _log
from .argument_parser import LocustArgumentParser
from .env import Environment
from .exception import CatchResponseError, RescheduleTask


def _print_t(s):
    """
    Print something with a tab instead of newline at the end
    """
    print(str(s), end="\t")


class PrintListener:
    """
    Print every response (useful when debugging a single locust)
    """

    def __init__(
        self,
        env,
        include_length=False,
        include_time=False,
        include_context=False,
        include_payload=False,
    ):
        env.events.request.add_listener(self.on_request)

        self.include_length = "length\t" if include_length else ""
        self.include_time = "time                    \t" if include_time else ""
        self.include_context = "context\t" if include_context else ""
        self.include_payload = "payload\t" if include_payload else ""

        print(
            f"\n{self.include_time}type\t{'name'.ljust(50)}\tresp_ms\t{self.include_length}exception\t{self.include_context}\t{self.include_payload}"
        )

    def on_request(
        self,
        request_type,
        name,
        response_time,
        response_length,
        exception,
        context: dict,
        start_time=None,
        response=None,
        **_kwargs,
    ):
        if exception:
            if isinstance(exception, RescheduleTask):
                pass
            if isinstance(exception, CatchResponseError):
                e = str(exception)
            else:
                try:
                    e = repr(exception)
                except AttributeError:
                    e = f"{exception.__class__} (and it has no string representation)"
            errortext = e[:500].replace("\n", " ")
        else:
            errortext = ""

        if response_time is None:
            response_time = -1
        n = name.ljust(30) if name else ""

        if self.include_time:
            if start_time:
                _print_t(datetime.fromtimestamp(start_time, tz=timezone.utc))
            else:
                _print_t(datetime.now())

        _print_t(request_type)
        _print_t(n.ljust(50))
        _print_t(str(round(response_time)).ljust(7))

        if self.include_length:
            _print_t(response_length)

        _print_t(errortext.ljust(9))

        if self.include_context:
            _print_t(context or "")

        if self.include_payload:
            _print_t(_payload(response))

        print()


def _payload(response):
    """The request body a response answers: Locust reads ``response._request.payload``
    (FastHttpUser's); Stampede's FastResponse has ``request.payload``, an HttpUser's
    response ``request.body``."""
    request = getattr(response, "_request", None) or getattr(response, "request", None)
    if request is None:
        return None
    payload = getattr(request, "payload", None)
    return payload if payload is not None else getattr(request, "body", None)


def _options():
    """The options ``run_single_user`` gives its Environment (see the module's docstring)."""
    from . import events

    parser = LocustArgumentParser(add_help=False)
    parser.add_argument("-H", "--host", default=os.environ.get("STAMPEDE_HOST") or os.environ.get("LOCUST_HOST"))
    events.init_command_line_parser.fire(parser=parser)
    options, _unknown = parser.parse_known_args(sys.argv[1:])
    return options


_env: Environment | None = None  # minimal Environment for debugging


def run_single_user(
    user_class,
    include_length=False,
    include_time=False,
    include_context=False,
    include_payload=False,
    loglevel: str | None = "WARNING",
):
    """
    Runs a single User. Useful when you want to run a debugger.

    It creates in a new locust :py:attr:`Environment <locust.env.Environment>` and triggers any ``init`` or ``test_start`` :ref:`events <extending_locust>` as normal.

    It does **not** trigger ``test_stop`` or ``quit`` when you quit the debugger.

    It prints some info about every request to stdout, and you can get additional info using the `include_*` flags

    It also initiates logging on WARNING level (not INFO, because it could interfere with the printing of requests),
    but you can change that by passing a log level (or disabling logging entirely by passing None)
    """
    global _env
    from . import events

    if loglevel:
        _log.setup_logging(loglevel)

    if not _env:
        options = _options()

        # in case your test goes looking for the file name of your locustfile
        frame = inspect.stack()[1]
        locustfile = os.path.basename(frame[0].f_code.co_filename)
        options.locustfile = locustfile

        _env = Environment(events=events, locustfile=locustfile, host=options.host, parsed_options=options)

        # log requests to stdout
        PrintListener(
            _env,
            include_length=include_length,
            include_time=include_time,
            include_context=include_context,
            include_payload=include_payload,
        )
        # fire various events (quit and test_stop will never get called, sorry about that)
        _env.events.init.fire(environment=_env, runner=None, web_ui=None)
        # uncaught events will be suppressed, so check if that happened
        if _runtime.unhandled_greenlet_exception:
            os._exit(1)

    # do the things that the Runner usually does
    _env.user_classes = [user_class]
    _env._filter_tasks_by_tags()
    _env.events.test_start.fire(environment=_env)
    if _env.host:
        user_class.host = _env.host

    # create a single user, run it here (sets _env.single_user_instance)
    _runtime.run_single_user(user_class, _env)
