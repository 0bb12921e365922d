"""What the compat layer asks of the process it runs in.

Under ``stampede -f`` the engine (``stampede._core``) backs every function here. Imported
without an engine (the Python layer's own tests), each falls back to a pure-Python stand-in:
``FakeTransport`` for HTTP and plain counters for the runner's numbers. The compat modules
import only this module, never ``_core``, so they stay testable alone.
"""

from __future__ import annotations

from typing import Optional

#: Set by the engine's front when a run is live; None in the Python layer's tests.
engine = None


def user_transport(user):
    """The transport of ``user``'s own ``client`` (its first session)."""
    t = getattr(user, "_stampede_transport", None)
    if t is not None:
        return t
    return _fake()


def session_transport(user):
    """A fresh transport (own jar and connections) for a session built by hand."""
    if user is not None and getattr(user, "_stampede_transport", None) is not None:
        return user._stampede_transport.new_session()
    if engine is not None:
        return engine.service_transport()
    return _fake()


def record_event(method: str, name: str, response_time_ms: float, response_length: int, error: Optional[str]) -> None:
    """Counts a request that user code reported itself (``events.request.fire``). Without
    engine it also goes into ``stats()`` (the engine does that through
    ``on_request_recorded``), so ``environment.stats`` counts it as Locust's would."""
    if engine is not None:
        engine.record_event(method, name, response_time_ms, response_length, error)
    else:
        fake_events.append((method, name, response_time_ms, response_length, error))
        on_request_recorded(method, name, response_time_ms, response_length, error)


#: Requests reported by ``events.request.fire`` when no engine runs (tests read it).
fake_events: list = []


def _fake():
    from stampede._fake_transport import FakeTransport

    return FakeTransport()


# --- The user loop's needs (compat.user, compat.event, compat.runners) -----------------------
#
# Each function asks ``engine`` for the method of the same name when a run is live and the
# engine provides it; otherwise it falls back to a pure-Python stand-in, so the compat layer
# runs (and is tested) without Rust, and an engine may implement these one at a time.

#: Exceptions caught in user loops when no engine runs: (user, exception, traceback text).
fake_exceptions: list = []

#: Set when an event listener raised (Locust's ``log.unhandled_greenlet_exception``); the
#: front turns it into exit code 2 at the end, as Locust's ``main.shutdown`` does.
unhandled_greenlet_exception = False

#: What the runner proxies report when no engine backs them. Tests may edit it.
fallback = {"state": "ready", "user_count": 0, "target_user_count": 0, "worker_count": 0}

#: Set by ``quit()``/``stop()`` when no engine backs them (tests read it).
fake_quit_requested = False


def _backed(name: str):
    """The engine's method ``name``, or None without engine or when it lacks one."""
    if engine is None:
        return None
    return getattr(engine, name, None)


def record_exception(user, exc: BaseException, tb_text: str) -> None:
    """Counts an exception that a user's loop caught (Locust's Exceptions tab): ``str(exc)``
    is the message, ``tb_text`` is ``"".join(traceback.format_tb(tb))``. Kept in
    ``fake_exceptions`` only when no engine runs (a live run must not grow a list)."""
    f = _backed("record_exception")
    if f is not None:
        f(user, exc, tb_text)
    elif engine is None:
        fake_exceptions.append((user, exc, tb_text))


def wait_scale() -> float:
    """The ``--wait-scale`` factor that every wait is multiplied by before sleeping; 1.0
    without engine. Called once per wait: keep it cheap."""
    f = _backed("wait_scale")
    return f() if f is not None else 1.0


def task_ran(taskset, task) -> None:
    """Called after a task returned normally (not by exception); ``taskset`` is the TaskSet
    instance that ran it (``taskset.user`` is the user). Lets the engine count task runs
    (``Event::TaskRun``). A no-op without engine."""
    f = _backed("task_ran")
    if f is not None:
        f(taskset, task)


def note_unhandled_exception() -> None:
    """Records that an event listener raised, so the process exits 2 at the end."""
    global unhandled_greenlet_exception
    unhandled_greenlet_exception = True


def runner_state() -> str:
    """The runner's state, one of ``compat.runners.STATE_*`` ("ready", "spawning", ...)."""
    f = _backed("runner_state")
    return f() if f is not None else fallback["state"]


def user_count() -> int:
    """Users running now (this process; on a master, the sum its workers reported)."""
    f = _backed("user_count")
    return f() if f is not None else fallback["user_count"]


def user_classes_count() -> dict:
    """Users running now per class name; classes with none may be left out."""
    f = _backed("user_classes_count")
    return f() if f is not None else {}


def target_user_count() -> int:
    """The user count the run is heading for (``-u``, the UI's or the shape's)."""
    f = _backed("target_user_count")
    return f() if f is not None else fallback["target_user_count"]


def worker_count() -> int:
    """Connected workers (master mode); 0 elsewhere."""
    f = _backed("worker_count")
    return f() if f is not None else fallback["worker_count"]


def stop() -> None:
    """Stops the test (users stop; the process stays up in web mode). Returns at once."""
    global fake_quit_requested
    f = _backed("stop")
    if f is not None:
        f()
    else:
        fake_quit_requested = True


def quit() -> None:
    """Ends the run and the process (``runner.quit()``). Returns at once; the caller's
    greenlet is killed with the others, as Locust's is. Falls back to the engine's
    ``shutdown()`` when it has no ``quit()``."""
    global fake_quit_requested
    f = _backed("quit") or _backed("shutdown")
    if f is not None:
        f()
    else:
        fake_quit_requested = True


def send_message(msg_type: str, data, client_id: Optional[str]) -> None:
    """A custom message to the other side (master -> workers, worker -> master)."""
    f = _backed("send_message")
    if f is None:
        raise NotImplementedError("send_message needs a distributed run")
    f(msg_type, data, client_id)
