"""Library mode ("use Locust as a library"): ``Environment``, ``create_local_runner``,
``create_web_ui``, ``runner.start``/``stop``/``quit``, ``runner.greenlet.join()``,
``stats_printer``/``stats_history``, without engine (users over ``FakeTransport``).

The docs' example script runs under real Locust 2.47 and under Stampede (both in
subprocesses, one loopback server): the events in order, the runner's log lines, the state
after quit and every per-name count and error row must be equal. In this process: re-targets,
``quit()`` from a task, ``stop()``, a shape, the engine contract, the Flask app.
"""

from __future__ import annotations

import json
import re

import gevent
import pytest

from _diffserver import DiffServer
from stampede import _runtime
from test_debug import _run

LIBRARY_SCRIPT = """
import json, sys, time
import gevent
from locust import HttpUser, task, constant, events
from locust.env import Environment
from locust.exception import StopUser
from locust.log import setup_logging
from locust.stats import StatsError, stats_history, stats_printer

setup_logging("INFO")
URL = sys.argv[1]
order = []


class U(HttpUser):
    weight = 3
    host = URL
    wait_time = constant(0)

    @task
    def t(self):
        self.client.get("/ok")
        self.client.get("/404")
        with self.client.get("/ok", name="checked", catch_response=True) as r:
            r.failure("bad body")
        raise StopUser()


class V(U):
    weight = 1


env = Environment(user_classes=[U, V], events=events)
runner = env.create_local_runner()
web_ui = env.create_web_ui("127.0.0.1", 0)


@web_ui.app.route("/added")
def added():
    return "added route"


for name in ("test_start", "spawning_complete", "test_stopping", "test_stop"):
    getattr(env.events, name).add_listener(lambda name=name, **kw: order.append([name, kw.get("user_count")]))
env.events.init.fire(environment=env, runner=runner, web_ui=web_ui)
gevent.spawn(stats_printer(env.stats))
gevent.spawn(stats_history, env.runner)
runner.start(4, spawn_rate=100)


def quit_when_done():  # the docs quit after a fixed time; here once every user has finished
    deadline = time.time() + 20
    while env.stats.total.num_requests < 12 and time.time() < deadline:
        gevent.sleep(0.05)
    gevent.sleep(0.2)
    runner.quit()


gevent.spawn(quit_when_done)
runner.greenlet.join()
web_ui.stop()
s = env.stats
print(json.dumps({
    "order": order,
    "state": runner.state,
    "user_count": runner.user_count,
    "entries": sorted([e.method, e.name, e.num_requests, e.num_failures, e.fail_ratio] for e in s.entries.values()),
    "total": [s.total.num_requests, s.total.num_failures, s.num_requests, s.num_failures],
    "errors": sorted([e.method, e.name, StatsError.parse_error(e.error), e.occurrences] for e in s.errors.values()),
    "keys": sorted(s.errors.keys()),
    "route": web_ui.app.test_client().get("/added").get_data(as_text=True),
}))
"""


@pytest.fixture(scope="module")
def server():
    s = DiffServer()
    yield s
    s.shutdown()


def test_the_docs_library_script_runs_as_under_locust(server, tmp_path):
    path = tmp_path / "library.py"
    path.write_text(LIBRARY_SCRIPT)
    args = [str(path), server.url]
    theirs, mine = _run(args, tmp_path, stampede=False), _run(args, tmp_path, stampede=True)
    t, m = json.loads(theirs.stdout), json.loads(mine.stdout)
    assert m == t
    assert t["order"] == [["test_start", None], ["spawning_complete", 4], ["test_stopping", None], ["test_stop", None]]
    assert t["total"][:2] == [12, 8] and t["state"] == "stopped" and t["route"] == "added route"

    def log_lines(stderr):
        lines = re.findall(r"^\[[^\]]+\] [^/]+/(\w+/locust\.runners: .*)$", stderr, flags=re.M)
        table = [l for l in stderr.splitlines() if l.startswith(("Type ", "Aggregated"))]
        return lines, table

    assert log_lines(mine.stderr) == log_lines(theirs.stderr)
    assert 'INFO/locust.runners: All users spawned: {"U": 3, "V": 1} (4 total users)' in log_lines(mine.stderr)[0]


# --- in this process ---------------------------------------------------------------------------


@pytest.fixture
def library():
    """A clean engine-less library state; whatever a test leaves running is quit after it."""
    saved_stats = _runtime._stats
    _runtime._fake_run = None
    _runtime.set_stats(None)
    yield
    run = _runtime._fake_run
    if run is not None and not run.ended.is_set():
        run.quit()
    _runtime._fake_run = None
    _runtime._stats = saved_stats


def _looping_user(host, path="/ok"):
    from locust import HttpUser, constant, task

    class Looper(HttpUser):
        wait_time = constant(0.01)

        @task
        def t(self):
            self.client.get(path)

    Looper.host = host
    return Looper


def _env(*classes, **kw):
    from locust.env import Environment
    from locust.event import Events

    return Environment(user_classes=list(classes), events=Events(), **kw)


def _wait_for(cond, timeout=5.0):
    deadline = gevent.get_hub().loop.now() + timeout
    while not cond():
        assert gevent.get_hub().loop.now() < deadline, "condition not reached"
        gevent.sleep(0.01)


def test_start_retarget_stop_and_quit(server, library, caplog):
    from locust.runners import STATE_RUNNING, STATE_STOPPED

    env = _env(_looping_user(server.url))
    runner = env.create_local_runner()
    seen = []
    env.events.test_start.add_listener(lambda **kw: seen.append("test_start"))
    env.events.test_stop.add_listener(lambda **kw: seen.append("test_stop"))
    with caplog.at_level("INFO", logger="locust.runners"):
        runner.start(2, spawn_rate=100)
        _wait_for(lambda: runner.state == STATE_RUNNING and runner.user_count == 2)
        runner.start(5, spawn_rate=100)
        _wait_for(lambda: runner.user_count == 5 and runner.state == STATE_RUNNING)
        assert runner.target_user_count == 5 and runner.user_classes_count == {"Looper": 5}
        runner.start(1, spawn_rate=100)
        _wait_for(lambda: runner.user_count == 1 and runner.state == STATE_RUNNING)
        _wait_for(lambda: env.stats.get("/ok", "GET").num_requests >= 10)
        runner.stop()
        assert runner.state == STATE_STOPPED and runner.user_count == 0
        joiner = gevent.spawn(runner.greenlet.join)
        gevent.sleep(0.05)
        assert not joiner.dead  # stop() is not the end of the run; quit() is
        runner.quit()
        joiner.join(5)
        assert joiner.dead
    assert seen == ["test_start", "test_stop"]
    assert "Ramping to 5 users at a rate of 100.00 per second" in caplog.text
    assert env.stats.get("/ok", "GET").fail_ratio == 0.0 and env.stats.total.num_failures == 0


def test_quit_from_a_task_ends_the_run(server, library):
    from locust import HttpUser, constant, task

    class Quitter(HttpUser):
        host = server.url
        wait_time = constant(0)
        after = []

        @task
        def t(self):
            self.client.get("/ok")
            if self.environment.stats.total.num_requests >= 3:
                self.environment.runner.quit()
            Quitter.after.append(1)  # reached: quit() returns to the caller at once

    env = _env(Quitter)
    stopped = []
    env.events.test_stop.add_listener(lambda **kw: stopped.append(True))
    runner = env.create_local_runner()
    runner.start(1, spawn_rate=1)
    runner.greenlet.join(timeout=5)
    assert len(runner.greenlet) == 0 and stopped == [True] and runner.state == "stopped"
    assert runner.user_count == 0 and env.stats.total.num_requests >= 3


def test_quit_before_the_join_ever_ran(library):
    env = _env(_looping_user("http://127.0.0.1:9"))
    runner = env.create_local_runner()
    runner.quit()
    runner.greenlet.join(timeout=2)
    assert len(runner.greenlet) == 0


def test_custom_user_events_count_and_reset_stats_after_spawning(library, caplog):
    from locust import User, constant, task

    class Custom(User):
        wait_time = constant(0.01)

        @task
        def t(self):
            self.environment.events.request.fire(
                request_type="grpc", name="Say", response_time=4.0, response_length=3, exception=None, context={}
            )

    env = _env(Custom, reset_stats=True)
    runner = env.create_local_runner()
    with caplog.at_level("INFO", logger="locust.runners"):
        runner.start(3, spawn_rate=2)  # 2 at once, then 1 after half a second
        _wait_for(lambda: runner.state == "running")
    assert "Resetting stats" in caplog.text
    _wait_for(lambda: env.stats.get("Say", "grpc").num_requests >= 5)
    assert env.stats.get("Say", "grpc").avg_response_time == 4.0
    runner.quit()


def test_a_shape_drives_the_runner(server, library):
    from locust import LoadTestShape

    class TwoThenStop(LoadTestShape):
        def tick(self):
            return (2, 100) if self.get_run_time() < 0.5 else None

    env = _env(_looping_user(server.url), shape_class=TwoThenStop())
    runner = env.create_local_runner()
    runner.start_shape()
    _wait_for(lambda: runner.user_count == 2)
    _wait_for(lambda: runner.state == "stopped", timeout=5)
    runner.quit()
    runner.greenlet.join(timeout=5)
    assert len(runner.greenlet) == 0


def test_split_of_users_over_classes():
    from locust import User

    A = type("A", (User,), {"weight": 3})
    B = type("B", (User,), {"weight": 1})
    F = type("F", (User,), {"fixed_count": 2})
    assert _runtime._split([A, B], 4) == {"A": 3, "B": 1}
    assert _runtime._split([A, B], 3) == {"A": 2, "B": 1}
    assert _runtime._split([F, A, B], 3) == {"F": 2, "A": 1, "B": 0}
    assert _runtime._split([F, A], 1) == {"F": 1, "A": 0}


def test_web_ui_app_is_flask_and_join_waits_for_stop(library):
    env = _env(_looping_user("http://127.0.0.1:9"))
    env.create_local_runner()
    web_ui = env.create_web_ui("127.0.0.1", 8089)
    assert env.web_ui is web_ui and (web_ui.host, web_ui.port) == ("127.0.0.1", 8089)

    @web_ui.app.route("/hello")
    @web_ui.auth_required_if_enabled
    def hello():
        return "hi"

    assert web_ui.app.test_client().get("/hello").get_data(as_text=True) == "hi"
    assert not web_ui.greenlet.dead
    web_ui.stop()
    web_ui.greenlet.join(timeout=2)
    assert web_ui.greenlet.dead
    with pytest.raises(AttributeError, match="only available with --web-login"):
        web_ui.login_manager
    from stampede.compat.web import _NoFlask

    with pytest.raises(RuntimeError, match="needs Flask"):
        _NoFlask().route("/x")


def test_library_calls_go_to_the_engine(engine, library):
    env = _env(_looping_user("http://h"), host="http://override")
    runner = env.create_local_runner()
    web_ui = env.create_web_ui("0.0.0.0", 9000, delayed_start=True)
    assert not [c for c in engine.calls if c[0] == "library_web_ui"]
    web_ui.start()
    runner.start(3, spawn_rate=1.5)
    gevent.sleep(0)  # the keeper greenlet parks in library_join
    runner.quit()
    web_ui.stop()
    calls = [c for c in engine.calls if c[0].startswith("library_")]
    assert calls == [
        ("library_web_ui", web_ui),
        ("library_start", env, 3, 1.5, "http://override"),
        ("library_join",),
        ("library_quit",),
        ("library_web_ui_stop", web_ui),
    ]
    assert env.user_classes[0].host == "http://override"


def test_an_engine_without_library_mode_says_so(library):
    """A real run must not quietly fall back to Python-only users."""
    from locust.runners import LocalRunner

    _runtime.engine = object()
    runner = _env(_looping_user("http://h"))._create_runner(LocalRunner)
    with pytest.raises(NotImplementedError, match="does not provide library_start"):
        runner.start(1, 1)
