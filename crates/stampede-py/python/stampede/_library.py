"""Locust as a library, on the engine: a script run with ``python -m stampede script.py``
that builds ``Environment(user_classes=...)`` and calls ``create_local_runner()``,
``runner.start(n, spawn_rate=r)``, ``runner.greenlet.join()`` and ``runner.quit()``, as
Locust documents, or calls ``run_single_user(UserClass)`` to debug one user.

``stampede._runtime`` routes those calls here (``library_start``, ``library_quit``,
``library_join``, ``run_single_user``); this module starts one engine run per process with
the environment's classes, headless, and the ``Front`` of a locustfile run serves it.
"""

from __future__ import annotations

import gevent.event


class LibraryEngine:
    """``_runtime.engine`` while a library script runs: no engine until the script starts
    one; then every other ``_runtime`` call goes to that run's ``Front``."""

    def __init__(self):
        self.front = None
        self._ended = gevent.event.Event()

    def __getattr__(self, name):
        front = self.__dict__.get("front")
        if front is None or name.startswith("library_"):
            raise AttributeError(name)
        return getattr(front, name)

    def _start(self, environment, argv, host):
        from stampede import _cli, _engine

        classes = list(environment.user_classes)
        for cls in classes:
            cls.host = host
        self.front = _engine.Front(classes, environment, stop_timeout=float(getattr(environment, "stop_timeout", 0) or 0),
                                   override_host=bool(host))
        self.front.start(["stampede", *argv], [_cli.class_spec(c) for c in classes])
        gevent.spawn(self._wait)

    def _wait(self):
        try:
            self.front.wait_finished()
        finally:
            self._ended.set()

    @staticmethod
    def _host(environment, host):
        host = host or getattr(environment, "host", None)
        if not host:
            host = next((c.host for c in environment.user_classes if getattr(c, "host", None)), None)
        if not host:
            raise ValueError("no host: give Environment(host=...) or a host on a user class")
        return host

    def library_start(self, environment, user_count, spawn_rate, host):
        if self.front is not None:
            raise RuntimeError("Stampede's library mode runs one test per process: quit() ends it")
        host = self._host(environment, host)
        argv = ["--headless", "-u", str(int(user_count)), "-r", str(float(spawn_rate)), "--host", host, "--only-summary"]
        self._start(environment, argv, host)

    def library_quit(self):
        if self.front is not None:
            self.front.shutdown()
        else:
            self._ended.set()

    def library_join(self):
        self._ended.wait()

    def run_single_user(self, user_class, environment):
        """One user of ``user_class`` until it stops by itself (or Ctrl-C); the engine's
        summary follows Locust's ``PrintListener`` lines."""
        environment.user_classes = [user_class]
        host = self._host(environment, None)
        self._start(environment, ["--headless", "-u", "1", "-r", "1", "--only-summary", "--host", host], host)
        self.front.end_when_users_gone = True
        self._ended.wait()

    def stop(self):
        self.library_quit()
