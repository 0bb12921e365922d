"""What the compat layer asks of the process it runs in.

Under ``stampede -f`` the engine (``stampede._core``) backs every function here. Imported
without an engine (the Python layer's own tests), each falls back to a pure-Python stand-in:
``FakeTransport`` for HTTP and plain counters for the runner's numbers. The compat modules
import only this module, never ``_core``, so they stay testable alone.
"""

from __future__ import annotations

import json
import logging
import math
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
    """A fresh transport (own jar and connections) for a session built by hand. Outside
    any user it is settled at first use: a session made at import or in ``init`` exists
    before the engine can serve it."""
    if user is not None and getattr(user, "_stampede_transport", None) is not None:
        return user._stampede_transport.new_session()
    return _Deferred()


class _Deferred:
    """A transport found when first used: the engine's session outside users (or the
    calling user's), or the pure-Python stand-in when no engine runs."""

    __slots__ = ("_t",)

    def __init__(self):
        self._t = None

    def _resolve(self):
        if self._t is None:
            self._t = engine.service_transport() if engine is not None and hasattr(engine, "service_transport") else _fake()
        return self._t

    def __getattr__(self, name):
        return getattr(self._resolve(), name)


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
    if f is not None:
        return f()
    return _fake_run.state if _fake_run is not None else fallback["state"]


def user_count() -> int:
    """Users running now (this process; on a master, the sum its workers reported)."""
    f = _backed("user_count")
    if f is not None:
        return f()
    return len(_fake_run.users) if _fake_run is not None else fallback["user_count"]


def user_classes_count() -> dict:
    """Users running now per class name; classes with none may be left out."""
    f = _backed("user_classes_count")
    if f is not None:
        return f()
    return _fake_run.classes_count() if _fake_run is not None else {}


def target_user_count() -> int:
    """The user count the run is heading for (``-u``, the UI's or the shape's)."""
    f = _backed("target_user_count")
    if f is not None:
        return f()
    return _fake_run.target if _fake_run is not None else fallback["target_user_count"]


def worker_count() -> int:
    """Connected workers (master mode); 0 elsewhere."""
    f = _backed("worker_count")
    return f() if f is not None else fallback["worker_count"]


def worker_rows() -> list:
    """A master's workers as (id, state, user_count) rows; empty elsewhere."""
    f = _backed("worker_rows")
    return f() if f is not None else []


def stop() -> None:
    """Stops the test (users stop; the process stays up in web mode). Returns at once."""
    global fake_quit_requested
    f = _backed("stop")
    if f is not None:
        f()
    else:
        fake_quit_requested = True
        if _fake_run is not None:
            _fake_run.off_user_greenlet(_fake_run.stop)


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


# --- Statistics (compat.stats): fed by the engine, read by locustfiles ---------------------

_stats = None


def stats():
    """The process's ``RequestStats`` (``environment.stats``, ``runner.stats``), created on
    first use. Every recorded request of the process is counted in it."""
    global _stats
    if _stats is None:
        from stampede.compat.stats import RequestStats

        _stats = RequestStats()
    return _stats


def set_stats(request_stats) -> None:
    """Makes ``request_stats`` the process's (``environment.stats = RequestStats(...)``)."""
    global _stats
    _stats = request_stats


def on_request_recorded(method: str, name: str, response_time_ms, response_length: int, error: Optional[str]) -> None:
    """Counts one recorded request in ``stats()``, as Locust's stats listener does:
    ``log_request``, then ``log_error`` when ``error`` (the failure's key text,
    ``parse_error(exception)``) is not None. ``response_time_ms`` may be None (Locust's
    ``num_none_requests``). The engine calls this for every request it records (sessions'
    and ``events.request.fire``'s): it is on the hot path, about 1.5 us (2.3 us with an
    error) on the dev machine. Call it on the hub's thread (it takes no lock)."""
    s = _stats or stats()
    s.log_request(method, name, response_time_ms, response_length or 0)
    if error is not None:
        s.log_error(method, name, error)


def reset_stats() -> None:
    """Zeroes ``stats()`` (Locust's ``reset_all``). The engine calls it whenever it resets its
    own statistics (the UI's reset, ``--reset-stats`` once spawning completes)."""
    stats().reset_all()


# --- Users run by Python alone (no engine): run_single_user and library mode ---------------

_recording_class = None


def _recording_transport():
    """A ``FakeTransport`` that counts what it records in ``stats()``, as the engine's does.
    It keeps nothing else (``_fake_transport.recorded`` is left alone): a run may be long."""
    global _recording_class
    if _recording_class is None:
        from stampede._fake_transport import FakeTransport

        class RecordingFakeTransport(FakeTransport):
            def record(self, raw, method, name, error, response_length):
                on_request_recorded(method, name, raw.elapsed * 1000, response_length, error)

            def record_event(self, method, name, response_time_ms, response_length, error):
                on_request_recorded(method, name, response_time_ms, response_length, error)

            def new_session(self):
                return RecordingFakeTransport()

        _recording_class = RecordingFakeTransport
    return _recording_class()


def _new_user(user_class, environment):
    """A user whose ``client`` goes through a recording fake transport (set before
    ``__init__``, which builds the session, as the engine's front does)."""
    user = user_class.__new__(user_class)
    user._stampede_transport = _recording_transport()
    user.__init__(environment)
    return user


def run_single_user(user_class, environment) -> None:
    """Runs one user of ``user_class`` in the calling greenlet until its ``run()`` returns
    (``StopUser``, ``StopTest``) or raises (Ctrl-C's ``KeyboardInterrupt`` goes through, as in
    Locust). Sets ``environment.single_user_instance``. Fires no event: ``compat.debug`` fired
    ``init`` and ``test_start`` already. Without engine the user's requests go over
    ``FakeTransport`` and are counted in ``stats()``."""
    f = _engine_only("run_single_user")
    if f is not None:
        return f(user_class, environment)
    user = _new_user(user_class, environment)
    environment.single_user_instance = user
    user.run()


#: The engine-less library run (``_FakeRun``), or None. It stays after it ended (so
#: ``runner.state`` reads "stopped"); the next start or join begins a new one.
_fake_run = None


def _engine_only(name: str):
    """The engine's method ``name``; None without engine (use the fallback). An engine that
    lacks it is an error: a real run must not quietly fall back to Python-only users."""
    if engine is None:
        return None
    f = getattr(engine, name, None)
    if f is None:
        raise NotImplementedError(f"Stampede's engine does not provide {name} yet")
    return f


def _current_fake_run():
    global _fake_run
    if _fake_run is None or _fake_run.quitting:
        _fake_run = _FakeRun()
    return _fake_run


def library_start(environment, user_count: int, spawn_rate: float, host) -> None:
    """``runner.start(user_count, spawn_rate)`` in library mode. Returns at once; users are
    started (or stopped) toward ``user_count`` at ``spawn_rate`` per second in the
    background. ``compat.runners`` has already cleared the stats (fresh run), filtered the
    tasks by tags and set every class's ``host`` from ``environment.host``; ``host`` is that
    value (may be None: each class keeps its own). The rest is Locust's ``LocalRunner._start``:
    ``test_start`` on a fresh run, the "Ramping to" and "All users spawned" log lines,
    ``spawning_complete``, ``environment.reset_stats``."""
    f = _engine_only("library_start")
    if f is not None:
        return f(environment, user_count, spawn_rate, host)
    _current_fake_run().start(environment, user_count, spawn_rate)


def library_quit() -> None:
    """``runner.quit()`` in library mode: stops the test as ``runner.stop()`` does
    (``test_stopping``, users stopped per ``environment.stop_timeout``, ``test_stop``), then
    makes ``library_join()`` return. Called from a user's own greenlet it returns at once
    and that greenlet is killed with the others."""
    f = _engine_only("library_quit")
    if f is not None:
        return f()
    run = _fake_run
    if run is not None and not run.quitting:
        run.quitting = True  # once: a task may call quit() again before it is killed
        run.off_user_greenlet(run.quit)


def library_join() -> None:
    """Parks the calling greenlet until the library run ends: ``library_quit()``, or the
    engine ending the run (``--run-time``, the UI's quit, Ctrl-C). May be called before
    ``library_start`` (a script that starts the test from the web UI)."""
    global _fake_run
    f = _engine_only("library_join")
    if f is not None:
        return f()
    if _fake_run is None or _fake_run.ended.is_set():  # one being quit is still waited for
        _fake_run = _FakeRun()
    _fake_run.ended.wait()


def library_web_ui(web_ui) -> None:
    """``environment.create_web_ui(host, port)``: serve the engine's web UI on
    ``web_ui.host``/``web_ui.port`` (``web_ui.environment`` is the Environment). Without
    engine nothing is served."""
    f = _engine_only("library_web_ui")
    if f is not None:
        f(web_ui)


def library_web_ui_stop(web_ui) -> None:
    """``web_ui.stop()``: stop serving. Without engine, nothing to stop."""
    f = _engine_only("library_web_ui_stop")
    if f is not None:
        f(web_ui)


class _FakeRun:
    """Locust's ``LocalRunner`` start/stop, in Python over ``FakeTransport``: what a
    library-mode script needs end to end in tests when no engine runs. The split of users
    over classes is simpler than Locust's dispatcher (``fixed_count`` first, then weights with
    largest remainders, spawned round robin)."""

    def __init__(self):
        import gevent.event
        import gevent.pool

        self.environment = None
        self.state = "ready"
        self.target = 0
        self.users = gevent.pool.Group()
        self.spawner = None
        self.quitting = False
        self.ended = gevent.event.Event()

    def off_user_greenlet(self, fn):
        """Runs ``fn`` here, or, called from one of the users (a task calling
        ``runner.quit()``), in a greenlet of its own so that killing the caller does not
        cut it short; the caller then returns at once."""
        import gevent

        if gevent.getcurrent() in self.users:
            gevent.spawn(fn)
        else:
            fn()

    def classes_count(self) -> dict:
        counts = {}
        for g in list(self.users):
            if g.args:
                name = type(g.args[0]).__name__
                counts[name] = counts.get(name, 0) + 1
        return counts

    def start(self, environment, user_count, spawn_rate):
        import gevent

        self.environment = environment
        if self.spawner is not None:
            self.spawner.kill(block=True)
        self.spawner = gevent.spawn(self._ramp, user_count, spawn_rate)
        self.spawner.link_exception(self._spawner_failed)

    def _ramp(self, user_count, spawn_rate):
        import gevent

        env = self.environment
        log = logging.getLogger("locust.runners")
        self.target = user_count
        if self.state not in ("running", "spawning"):
            env.events.test_start.fire(environment=env)
        self.state = "spawning"
        log.info("Ramping to %d users at a rate of %.2f per second" % (user_count, spawn_rate))
        wanted = _split(env.user_classes, user_count)
        have = self.classes_count()
        self._stop_some({n: have.get(n, 0) - k for n, k in wanted.items() if have.get(n, 0) > k})
        by_name = {c.__name__: c for c in env.user_classes}
        missing = {n: k - have.get(n, 0) for n, k in wanted.items() if k > have.get(n, 0)}
        order = []
        while any(missing.values()):
            for name in [n for n, k in missing.items() if k > 0]:
                order.append(name)
                missing[name] -= 1
        # Locust's dispatcher: floor(rate) users at once, then a pause of batch/rate seconds
        batch = max(1, math.floor(spawn_rate)) if spawn_rate > 0 else max(1, len(order))
        for i in range(0, len(order), batch):
            if i:
                gevent.sleep(batch / spawn_rate)
            for name in order[i : i + batch]:
                _new_user(by_name[name], env).start(self.users)
        counts = {name: 0 for name in wanted}
        counts.update(self.classes_count())
        counts = dict(sorted(counts.items()))
        log.info(f"All users spawned: {json.dumps(counts)} ({sum(counts.values())} total users)")
        self.state = "running"
        env.events.spawning_complete.fire(user_count=sum(counts.values()))
        if env.reset_stats:
            log.info("Resetting stats\n")
            stats().reset_all()

    def _spawner_failed(self, greenlet):
        """Locust's ``locust_exception_handler``: a ``StopTest`` (say, a user without host)
        stops the test; anything else is an unhandled greenlet exception."""
        from stampede.compat.exception import StopTest

        log = logging.getLogger("locust.runners")
        if isinstance(greenlet.exception, StopTest):
            log.error(greenlet.exception)
            log.warning("Stopping Locust...")
            import gevent

            gevent.spawn(self.stop)
        else:
            log.critical("Unhandled exception in greenlet: %s", greenlet, exc_info=greenlet.exc_info)
            note_unhandled_exception()

    def _stop_some(self, per_class: dict):
        """Stops ``per_class[name]`` users of each class, as Locust's ``stop_users``."""
        import gevent
        import gevent.pool

        stop_timeout = getattr(self.environment, "stop_timeout", 0) or 0
        current = gevent.getcurrent()
        calls, waiting = gevent.pool.Group(), gevent.pool.Group()
        for g in list(self.users):
            user = g.args[0] if g.args else None
            if user is None or per_class.get(type(user).__name__, 0) <= 0:
                continue
            per_class[type(user).__name__] -= 1
            if g is current:
                self.users.killone(g, block=False)
            elif stop_timeout:
                if user._state != "stopping":
                    calls.add(gevent.spawn_later(0, user.stop, force=False))
                waiting.add(g)
            else:
                calls.add(gevent.spawn_later(0, user.stop, force=True))
        calls.join()
        if not waiting.join(timeout=stop_timeout):
            logging.getLogger("locust.runners").info(
                f"Not all users finished their tasks & terminated in {stop_timeout} seconds. Stopping them..."
            )
            waiting.kill(block=True)

    def stop(self):
        """Locust's ``Runner.stop``: events around stopping every user."""
        import gevent

        if self.state in ("stopped", "cleanup") or self.environment is None:
            if self.state != "cleanup":  # "cleanup": a stop is under way in another greenlet
                self.state = "stopped"
            return
        env = self.environment
        env.events.test_stopping.fire(environment=env)
        self.state = "cleanup"
        if self.spawner is not None and not self.spawner.ready() and self.spawner is not gevent.getcurrent():
            self.spawner.kill(block=True)
        self._stop_some(self.classes_count())
        self.state = "stopped"
        env.events.test_stop.fire(environment=env)

    def quit(self):
        try:
            self.stop()
        finally:
            self.ended.set()


def _split(user_classes, user_count: int) -> dict:
    """Users per class name for ``user_count`` users: ``fixed_count`` classes first (in
    order), the rest by weight with largest remainders."""
    counts = {c.__name__: 0 for c in user_classes}
    left = user_count
    for c in user_classes:
        if getattr(c, "fixed_count", 0):
            counts[c.__name__] = min(c.fixed_count, left)
            left -= counts[c.__name__]
    weighted = [c for c in user_classes if not getattr(c, "fixed_count", 0)]
    total = sum(c.weight for c in weighted)
    if left <= 0 or not total:
        return counts
    shares = [(c, left * c.weight / total) for c in weighted]
    for c, share in shares:
        counts[c.__name__] = int(share)
    rest = left - sum(int(share) for _, share in shares)
    for c, share in sorted(shares, key=lambda cs: cs[1] - int(cs[1]), reverse=True)[:rest]:
        counts[c.__name__] += 1
    return counts
