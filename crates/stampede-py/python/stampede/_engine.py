"""The Python half of the seam: gevent's hub meets the engine.

One ``Front`` per process. It starts the engine (``stampede._core.Engine``), watches the
engine's socket from the hub, and for each message drained: starts a user's greenlet,
stops or kills one, or wakes the greenlet parked on a request's ticket. A greenlet that
sends a request parks on a ``gevent.hub.Waiter``; nothing on the hub thread ever waits on
the engine, so every other greenlet runs meanwhile.
"""

from __future__ import annotations

import logging
import sys
import traceback

import gevent
import gevent.event
import gevent.pool
import gevent.queue
from gevent.hub import Waiter, get_hub

from stampede import _core, _runtime
from stampede._transport import Raw

log = logging.getLogger("stampede.front")

_READ = 1


class Front:
    """The process's engine, its hub watcher, and its users by id."""

    def __init__(self, classes, environment, stop_timeout: float = 0.0, override_host: bool = False, shape=None):
        self.classes = classes
        self.environment = environment
        self.stop_timeout = stop_timeout
        self.override_host = override_host
        options = getattr(environment, "parsed_options", None)
        # What the command line asks for: Locust's target_user_count is set by test_start.
        self.target_users = int(getattr(options, "num_users", 0) or 0) if options is not None else 0
        self._state = "ready"
        #: ``--autoquit N`` with ``--autostart``: end the process N s after the test ends.
        self.autoquit = None
        #: A master's workers: (id, state, user_count) rows, as the engine last told them.
        self._workers = []
        self._shape_started = False
        #: End the run once every user has ended (``run_single_user``, as Locust returns
        #: when its one user's ``run()`` does); a locustfile run goes on, as Locust's does.
        self.end_when_users_gone = False
        #: The locustfile's LoadTestShape instance, ticked here (see src/shape.rs).
        self.shape = shape
        self._wait_scale = float(getattr(options, "wait_scale", 1.0) or 0.0) if options is not None else 1.0
        self.core = _core.Engine()
        self.waiters = {}
        self.users = {}
        #: Each user greenlet's transport: ``events.request.fire`` counts on the caller's.
        self.by_greenlet = {}
        self.group = gevent.pool.Group()
        self.finished = gevent.event.AsyncResult()
        self.watcher = get_hub().loop.io(self.core.fd(), _READ)
        self.watcher.start(self._on_wake)
        # The users' commands wait in the engine's outbox until the hub runs its callbacks:
        # the first command of a burst schedules one flush, so a burst of users (every
        # greenlet a drain or a timer woke) costs one wakeup of the engine's thread.
        self._loop = get_hub().loop
        self._flush_due = False
        #: Relayed messages and worker reports, handled one after another in arrival order
        #: (as Locust's receive loop does) by one greenlet, started on the first.
        self._relayed = gevent.queue.Queue()
        self._relay_greenlet = None
        #: Sessions built outside any user send through this (the engine's, once a run's
        #: users and stats exist, before ``test_start``).
        self._outside_users = None

    # -- the run -------------------------------------------------------------------------
    def start(self, argv, class_specs, threads=1, forwarded=(), ui_options=()):
        # A worker announces itself to its master by its runner's client_id, as Locust's.
        from stampede.compat.runners import WorkerRunner

        runner = getattr(self.environment, "runner", None)
        node_id = runner.client_id if isinstance(runner, WorkerRunner) else None
        self.core.set_relay(list(forwarded), list(ui_options), node_id)
        self.core.start(argv, class_specs, threads, self.shape is not None)

    # -- the load shape ------------------------------------------------------------------
    def _shape_tick(self) -> bool:
        """Asks the shape once and tells the engine; False once the shape has ended."""
        answer = self.shape.tick()
        if answer is None:
            self.core.end_shape()
            return False
        users, rate = answer[0], answer[1]
        self.core.set_shape(int(users), float(rate))
        return True

    def _shape_worker(self):
        """Locust's shape worker: a tick a second until the shape says None."""
        while self._shape_tick():
            gevent.sleep(1)

    def wait_finished(self) -> int:
        """Parks the calling greenlet until the run ends; its exit code."""
        try:
            code = self.finished.get()
        except KeyboardInterrupt:
            self.core.shutdown()
            code = self.finished.get()
        self.core.join()
        self.watcher.stop()
        return code

    def shutdown(self):
        self.core.shutdown()

    def record_event(self, method, name, response_time_ms, response_length, error):
        """``events.request.fire`` from user code: counted on the calling user's recorder
        (or any user's, for a greenlet the user spawned)."""
        t = self.by_greenlet.get(gevent.getcurrent())
        if t is None and self.by_greenlet:
            t = next(iter(self.by_greenlet.values()))
        if t is not None:
            t.record_event(method, name, response_time_ms, response_length, error)

    # -- what stampede._runtime asks of the engine ----------------------------------------
    def record_exception(self, user, exc, tb_text):
        t = getattr(user, "_stampede_transport", None) or self._any_transport()
        if t is not None:
            t._handle.exception(str(exc), tb_text)
            self.queued()

    def task_ran(self, taskset, task):
        user = getattr(taskset, "user", None)
        t = getattr(user, "_stampede_transport", None)
        if t is not None:
            t.task_ran(getattr(task, "__name__", None) or repr(task))

    def wait_scale(self):
        return self._wait_scale

    def runner_state(self):
        """Locust's runner states as the engine's milestones move them: ``ready`` until the
        first ramp (so in ``test_start``), ``spawning``, ``running``, ``stopping`` once the
        test ends, ``stopped`` from ``test_stop`` on."""
        return "stopped" if self.finished.ready() else self._state

    def user_classes_count(self):
        """Running users per class name, every class listed (``runner.user_classes_count``)."""
        counts = {cls.__name__: 0 for cls in self.classes}
        for user in self.users.values():
            name = type(user).__name__
            counts[name] = counts.get(name, 0) + 1
        return counts

    def user_count(self):
        if self._workers:
            return sum(n for _, state, n in self._workers if state != "missing")
        return len(self.users)

    def worker_count(self):
        return sum(1 for _, state, _ in self._workers if state != "missing")

    def worker_rows(self):
        return list(self._workers)

    def target_user_count(self):
        return self.target_users

    def quit(self):
        self.core.shutdown()

    def _any_transport(self):
        t = self.by_greenlet.get(gevent.getcurrent())
        if t is None and self.by_greenlet:
            t = next(iter(self.by_greenlet.values()))
        return t

    def service_transport(self):
        """A session built by hand: the calling user's new session when a user's greenlet
        builds it, else one of the engine's sessions outside any user (a ``test_start``
        listener's, or a module-level session's first request)."""
        t = self.by_greenlet.get(gevent.getcurrent())
        if t is None:
            t = self._outside_users
        if t is None:
            raise RuntimeError(
                "Stampede: a session built outside any user sent a request before the test was set up "
                "(at import or in an init listener); send it from test_start, on_start or a task"
            )
        return t.new_session()

    def queued(self):
        """A user queued a command in the engine's outbox: flush soon, once per burst."""
        if not self._flush_due:
            self._flush_due = True
            self._loop.run_callback(self._flush)

    def _flush(self):
        self._flush_due = False
        self.core.flush()

    # -- tickets -------------------------------------------------------------------------
    def wait(self, ticket):
        """Parks this greenlet until the engine answers ``ticket``."""
        w = Waiter()
        self.waiters[ticket] = w
        try:
            return w.get()
        finally:
            self.waiters.pop(ticket, None)

    # -- the hub's callback --------------------------------------------------------------
    def _on_wake(self):
        for msg in self.core.drain():
            kind = msg[0]
            if kind == "reply":
                w = self.waiters.pop(msg[1], None)
                if w is not None:
                    w.switch(msg[2])
            elif kind == "spawn":
                gevent.spawn(self._start_user, msg[1], msg[2], msg[3], msg[4])
            elif kind == "workers":
                known = {w[0] for w in self._workers}
                self._workers = [tuple(w) for w in msg[1]]
                for worker_id, _, _ in self._workers:
                    if worker_id not in known:
                        gevent.spawn(self.environment.events.worker_connect.fire, client_id=worker_id)
            elif kind == "joined":
                runner = getattr(self.environment, "runner", None)
                if runner is not None:
                    runner.worker_index = msg[1]
            elif kind == "master_options":
                self._take_master_options(msg[1], msg[2])
            elif kind == "ui_options":
                self._take_ui_options(msg[1], msg[2])
            elif kind == "outside_users":
                self._outside_users = EngineTransport(self, msg[1], 0)
            elif kind == "stop":
                user = self.users.get(msg[1])
                if user is not None:
                    # stop() may block (killone): never on the hub.
                    gevent.spawn(user.stop, self.stop_timeout == 0)
            elif kind == "kill":
                user = self.users.get(msg[1])
                g = getattr(user, "_greenlet", None)
                if g is not None:
                    g.kill(block=False)
            elif kind == "hook":
                gevent.spawn(self._hook, msg[1], msg[2])
            elif kind in _MILESTONES:
                _MILESTONES[kind](self, *msg[1:])
            elif kind == "finished":
                self.finished.set(msg[1])
            elif kind in ("message", "worker_report"):
                self._relayed.put(msg)
                if self._relay_greenlet is None:
                    self._relay_greenlet = gevent.spawn(self._relay_loop)
            elif kind == "report_due":
                gevent.spawn(self._report_to_master, msg[1])
            elif kind == "relay_error":
                log.warning("dropped a message from another node: %s", msg[1])

    # -- master and workers: the locustfile's own traffic --------------------------------
    def send_message(self, msg_type, data, client_id):
        """``runner.send_message`` on a master (to ``client_id``, or every worker) or a
        worker (to its master)."""
        self.core.send_message(msg_type, data, client_id)

    def _take_master_options(self, options, host):
        """A worker's share of its master's spawn, as Locust's worker takes it (before
        ``test_start``): the host, as ``environment.host``; the locustfile's own arguments,
        and any option this worker's command line does not have."""
        if host:
            self.environment.host = host
        ns = getattr(self.environment, "parsed_options", None)
        if ns is None or not isinstance(options, dict):
            return
        own = set(getattr(ns, "_stampede_custom", ()))
        for key, value in options.items():
            if isinstance(key, str) and (key in own or not hasattr(ns, key)):
                setattr(ns, key, value)
        # The master's --tags and --exclude-tags decide which tasks run, as a Locust worker
        # takes them (``runners.py``: copied, then ``_filter_tasks_by_tags``).
        if "tags" in options or "exclude_tags" in options:
            tags, exclude = options.get("tags") or None, options.get("exclude_tags") or None
            ns.tags, ns.exclude_tags = tags, exclude
            self.environment.tags, self.environment.exclude_tags = tags, exclude
            self.environment._tasks_filtered = False
            self.environment._filter_tasks_by_tags()

    def _take_ui_options(self, values, host):
        """The web UI's start form: its host becomes ``environment.host`` and every user
        class's (as Locust's ``/swarm`` sets them); the locustfile's own arguments each take
        the type their current value has, as Locust converts them; a master forwards the
        new values to its workers."""
        if host:
            self.environment.host = host
            for cls in self.classes:
                cls.host = host
            self.override_host = True
        ns = getattr(self.environment, "parsed_options", None)
        if ns is None:
            return
        for key, text in values:
            old = getattr(ns, key, None)
            if isinstance(old, bool):
                new = text == "true"
            elif old is None:
                new = text
            else:
                try:
                    new = type(old)(text)
                except (TypeError, ValueError):
                    log.warning("the start form's %s=%r is not a %s; keeping %r", key, text, type(old).__name__, old)
                    continue
            setattr(ns, key, new)
        from stampede._cli import _forwarded

        self.core.set_forwarded(_forwarded(ns))

    def _relay_loop(self):
        while True:
            msg = self._relayed.get()
            try:
                if msg[0] == "worker_report":
                    self.environment.events.worker_report.fire(client_id=msg[1], data=msg[2])
                else:
                    self._on_message(msg[1], msg[2], msg[3])
            except Exception:
                log.error("error handling a message from another node\n%s", traceback.format_exc())

    def _on_message(self, kind, data, node_id):
        """A registered message's listener, as Locust's runners call it."""
        from stampede.compat.runners import MasterRunner, Message

        runner = self.environment.runner
        found = runner.custom_messages.get(kind) if runner is not None else None
        if found is None:
            if isinstance(runner, MasterRunner):
                _runner_log.warning(f"Unknown message type received from worker {node_id}: {kind}")
            else:
                _runner_log.warning(f"Unknown message type received: {kind}")
            return
        listener, concurrent = found
        msg = Message(kind, data, node_id)
        try:
            if not concurrent:
                listener(environment=self.environment, msg=msg)
            else:
                gevent.spawn(listener, environment=self.environment, msg=msg)
        except Exception:
            logging.error(f"Uncaught exception in handler for {kind}\n{traceback.format_exc()}")

    def _report_to_master(self, ticket):
        """A worker's report is due: Locust's ``_send_stats`` fires ``report_to_master``
        with an empty dict, and the listeners' additions go with the report."""
        data = {}
        runner = self.environment.runner
        try:
            self.environment.events.report_to_master.fire(client_id=getattr(runner, "client_id", ""), data=data)
            self.core.report_extra(ticket, data)
            # A Locust worker's stats start afresh with each report (its master keeps the
            # sums): a quitting listener on a worker sees the last interval only.
            _runtime.reset_stats()
        except Exception:
            self.core.report_extra(ticket, None)
            raise

    def _hook(self, ticket, event):
        """Runs the listeners of ``test_start``/``test_stop`` in a greenlet of their own;
        the engine waits for them before going on, as Locust's runner does."""
        try:
            if event == "test_stop":
                # As Locust's stop(): test_stopping, the users stopped, then test_stop; a
                # master fires test_stop while it still waits for its workers (stopping).
                from stampede.compat.runners import MasterRunner

                self._state = "stopping"
                self.environment.events.test_stopping.fire(environment=self.environment)
                if not isinstance(self.environment.runner, MasterRunner):
                    self._state = "stopped"
            getattr(self.environment.events, event).fire(environment=self.environment)
            if event == "test_stop":
                self._state = "stopped"
            if event == "test_start":
                self._state = "ready"
            if event == "test_start" and self.shape is not None:
                # The engine asks the shape for its start right after this hook.
                self.shape.reset_time()
                if self._shape_tick():
                    gevent.spawn_later(1, self._shape_worker)
        finally:
            self.core.hook_done(ticket)

    def _start_user(self, class_idx, user_id, handle, host):
        cls = self.classes[class_idx]
        user = cls.__new__(cls)
        if self.override_host:
            # --host given, or a worker's master's: it replaces every class's own, as
            # Locust's runner does at each start. The engine's URL always ends in "/";
            # Locust joins base and path by concatenation, so keep the host as typed.
            user.host = host[:-1] if host.endswith("/") and host.count("/") == 3 else host
        user._stampede_transport = EngineTransport(self, handle, 0)
        try:
            user.__init__(self.environment)
        except Exception:
            log.exception("%s could not be created", cls.__name__)
            handle.ended()
            self.queued()
            return
        self.users[user_id] = user
        greenlet = user.start(self.group)
        self.by_greenlet[greenlet] = user._stampede_transport

        def ended(g, user_id=user_id, handle=handle, transport=user._stampede_transport):
            self.users.pop(user_id, None)
            self.by_greenlet.pop(g, None)
            transport.flush_tasks()
            handle.ended()
            self.queued()
            if self.end_when_users_gone and not self.users:
                self.core.shutdown()  # run_single_user: done when its user is

        greenlet.link(ended)


_on_recorded = _runtime.on_request_recorded
_main_log = logging.getLogger("locust.main")
_runner_log = logging.getLogger("locust.runners")


def _web_ui(front, url):
    _main_log.info(f"Starting web interface at {url}, press enter to open your default browser.")


def _ramping(front, users, rate, shape):
    front.target_users = users
    runner = getattr(front.environment, "runner", None)
    if runner is not None:
        runner.spawn_rate = rate
    front._state = "spawning"
    if shape and not front._shape_started:
        front._shape_started = True
        _runner_log.info("Shape test starting.")
        _runner_log.info("Shape worker starting")
    if shape:
        _runner_log.info("Shape test updating to %d users at %.2f spawn rate" % (users, rate))
    _runner_log.info("Ramping to %d users at a rate of %.2f per second" % (users, rate))


def _spawned(front, counts):
    import json

    front._state = "running"
    if getattr(getattr(front.environment, "parsed_options", None), "reset_stats", False):
        _runner_log.info("Resetting stats\n")
        _runtime.reset_stats()
    counts = dict(sorted((name, n) for name, n in counts))
    _runner_log.info("All users spawned: %s (%d total users)" % (json.dumps(counts), sum(counts.values())))
    # Listeners run in a greenlet of their own, never on the hub.
    gevent.spawn(front.environment.events.spawning_complete.fire, user_count=sum(counts.values()))


def _ending(front, why):
    front._state = "stopping"
    if front.autoquit is not None:
        _main_log.info(f"Test finished, quitting in {front.autoquit:g} seconds (--autoquit)")
        gevent.spawn_later(front.autoquit, front.shutdown)
    if why in ("--run-time limit reached",):
        _main_log.info(f"{why}, shutting down")
    elif why == "Shape test stopping":
        _runner_log.info(why)
        _main_log.info("Shape test completed, shutting down")


#: What the engine's milestones become: Locust's log lines and events.
_MILESTONES = {"web_ui": _web_ui, "ramping": _ramping, "spawned": _spawned, "ending": _ending}


def _decode(headers, body: bytes) -> bytes:
    """The body as requests hands it to ``.content``: any Content-Encoding undone with
    urllib3's own decoders (gzip, deflate, and br or zstd when their modules exist)."""
    enc = None
    for k, v in headers:
        if k.lower() == "content-encoding":
            enc = v.strip().lower()
    if not enc or enc == "identity" or not body:
        return body
    try:
        from urllib3.response import _get_decoder

        d = _get_decoder(enc)
        return d.decompress(body) + d.flush()
    except Exception:
        return body


class EngineTransport:
    """``stampede._transport.Transport`` over one session of one user in the engine."""

    __slots__ = ("_front", "_handle", "_session", "_ran")

    def __init__(self, front, handle, session):
        self._front = front
        self._handle = handle
        self._session = session
        #: Tasks that ran since the last request: sent with the next one (no wakeup of
        #: the engine of their own), or when many gather, or when the user ends.
        self._ran = []

    def request(self, method, url, headers, body, *, allow_redirects=True, max_redirects=30,
                timeout=None, connect_timeout=None, insecure=False, name=None, auto=0, **_ignored):
        if isinstance(body, str):
            body = body.encode("utf-8")
        ran = self._ran
        if ran:
            self._ran = []
        try:
            ticket = self._handle.request(self._session, method, url, name or url, headers,
                                          body, allow_redirects, max_redirects, timeout, auto, ran)
        except RuntimeError:
            # The run has ended this user: end the calling greenlet quietly (a greenlet the
            # user spawned included), as a killed greenlet ends under Locust.
            raise gevent.GreenletExit()
        self._front.queued()
        try:
            r = self._front.wait(ticket)
        except BaseException:
            try:
                self._handle.forget(ticket)
                self._front.queued()
            except RuntimeError:
                pass
            raise
        if not r.encoded:
            return r  # the engine's Raw has every field a session reads
        return Raw(
            status=r.status,
            reason=r.reason,
            url=r.url or url,
            headers=r.headers,
            body=_decode(r.headers, r.body),
            elapsed=r.elapsed,
            history=r.history,
            error_kind=r.error_kind,
            error=r.error,
            request_headers=None,
            content_length=r.content_length,
            ticket=r.ticket,
        )

    def record(self, raw, method, name, error, response_length):
        # Locust's `environment.stats`, in Python, for locustfiles that read it in a task.
        _on_recorded(method, name, raw.elapsed * 1000, response_length, error)
        if getattr(raw, "recorded", False):
            return  # the engine recorded this success itself (src/msg.rs, AutoVerdict)
        self._handle.record(raw.ticket, method, name, error, int(response_length or 0))
        self._front.queued()

    def task_ran(self, name):
        self._ran.append(name)
        if len(self._ran) >= 64:
            self.flush_tasks()

    def flush_tasks(self):
        if self._ran:
            self._handle.tasks_ran(self._ran)
            self._ran = []
            self._front.queued()

    def record_event(self, method, name, response_time_ms, response_length, error):
        _on_recorded(method, name, response_time_ms, response_length, error)
        self._handle.event(method, name, float(response_time_ms or 0), int(response_length or 0), error)
        self._front.queued()

    def cookies(self):
        ticket = self._handle.cookies(self._session)
        self._front.queued()
        return self._front.wait(ticket)

    def set_cookie(self, name, value, domain="", path="/"):
        self._handle.set_cookie(self._session, name, value, domain or "", path or "/")
        self._front.queued()

    def remove_cookie(self, name, domain=None, path=None):
        self._handle.remove_cookie(self._session, name, domain, path)
        self._front.queued()

    def clear_cookies(self):
        self._handle.clear_cookies(self._session)
        self._front.queued()

    def new_session(self):
        session = self._handle.new_session()
        self._front.queued()
        return EngineTransport(self._front, self._handle, session)
