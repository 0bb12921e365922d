"""What Stampede adds to Locust's user loop, and the pieces with no Locust oracle here:
``--wait-scale``, the engine hooks in ``_runtime`` (exceptions, task runs, ``events.request``),
the runner proxies, ``Environment``, ``LoadTestShape`` and ``parse_timespan``."""

import logging
import time

import gevent
import pytest
from gevent.pool import Group

from locust import LoadTestShape, TaskSet, User, constant, constant_pacing, events, task
from locust.env import Environment
from locust.event import DeprecatedEventHook, EventHook, Events
from locust.exception import RescheduleTask, RunnerAlreadyExistsError, StopUser
from locust.runners import STATE_INIT, LocalRunner, MasterRunner, WorkerRunner
from locust.util.timespan import parse_timespan
from stampede import _runtime
from stampede.compat.stats import StatsError, parse_error


def _run(user, timeout=5):
    g = user.start(Group())
    g.join(timeout)
    assert g.dead, "user did not end"
    return g


def _counting_user(n, wait=constant(0), body=None):
    """A user whose one task runs ``n`` times, then stops the user."""

    class U(User):
        wait_time = wait
        runs = []

        @task
        def t(self):
            U.runs.append(time.perf_counter())
            if body:
                body(self)
            if len(U.runs) >= n:
                raise StopUser()

    return U


# --- --wait-scale ------------------------------------------------------------------------------


def test_waits_are_multiplied_by_the_scale_before_sleep(engine):
    engine.scale = 0.25
    slept = []

    class U(_counting_user(3, wait=constant(2))):
        class Root(TaskSet):
            pass

        def on_start(self):
            self._taskset_instance._sleep = slept.append

    _run(U(Environment()))
    assert slept == [0.5, 0.5]


def test_scale_zero_means_no_waiting(engine):
    engine.scale = 0.0
    U = _counting_user(5, wait=constant(100))
    started = time.perf_counter()
    _run(U(Environment()))
    assert time.perf_counter() - started < 1


def test_no_engine_means_scale_one():
    assert _runtime.wait_scale() == 1.0


def test_constant_pacing_period_is_scaled(engine):
    """With Locust's formula unchanged the period would drift back to 0.2 s; scaled, it
    is 0.2 x 0.5 = 0.1 s."""
    engine.scale = 0.5
    U = _counting_user(6, wait=constant_pacing(0.2), body=lambda self: gevent.sleep(0.02))
    _run(U(Environment()))
    gaps = [b - a for a, b in zip(U.runs, U.runs[1:])]
    assert all(0.08 <= g <= 0.14 for g in gaps[1:]), gaps


def test_constant_pacing_unscaled_period(engine):
    U = _counting_user(4, wait=constant_pacing(0.1), body=lambda self: gevent.sleep(0.03))
    _run(U(Environment()))
    gaps = [b - a for a, b in zip(U.runs, U.runs[1:])]
    assert all(0.09 <= g <= 0.13 for g in gaps), gaps


# --- exceptions and task runs go to the engine -----------------------------------------------


def test_task_exception_is_recorded_without_engine(caplog):
    def boom(self):
        if len(self.runs) == 2:
            raise ValueError("boom")

    U = _counting_user(3, body=boom)
    U.runs = []
    with caplog.at_level(logging.ERROR, logger="locust.user.task"):
        _run(U(Environment()))
    [(user, exc, tb)] = _runtime.fake_exceptions
    assert isinstance(user, U) and repr(exc) == "ValueError('boom')"
    assert "in boom" in tb and tb.startswith("  File ")
    assert caplog.records[0].getMessage().startswith("boom\nTraceback (most recent call last):")


def test_engine_gets_exceptions_and_task_runs(engine):
    class U(User):
        wait_time = constant(0)
        n = 0

        @task
        def t(self):
            U.n += 1
            if U.n == 2:
                raise KeyError("k")
            if U.n == 3:
                raise RescheduleTask()
            if U.n == 5:
                raise StopUser()

    user = U(Environment())
    _run(user)
    ran = [c for c in engine.calls if c[0] == "task_ran"]
    assert len(ran) == 2  # runs 1 and 4 returned; 2, 3 and 5 raised
    assert all(c[1] is user._taskset_instance and c[2] == U.t for c in ran)
    [(_, who, exc, tb)] = [c for c in engine.calls if c[0] == "record_exception"]
    assert who is user and repr(exc) == "KeyError('k')" and "in t" in tb
    assert not _runtime.fake_exceptions


def test_on_start_failure_is_recorded_but_stop_user_is_not():
    class Bad(User):
        def on_start(self):
            raise RuntimeError("no start")

        @task
        def t(self):
            pass

    class Stops(Bad):
        def on_start(self):
            raise StopUser()

    g = _run(Bad(Environment()))
    assert repr(g.exception) == "RuntimeError('no start')"
    g = _run(Stops(Environment()))
    assert g.successful()
    [(user, exc, _)] = _runtime.fake_exceptions
    assert isinstance(user, Bad) and not isinstance(user, Stops)


def test_engine_transport_set_before_init_is_kept():
    """The front sets ``_stampede_transport`` before ``__init__`` (HttpUser builds its
    session there); ``__init__`` must not reset it."""
    U = _counting_user(1)
    user = U.__new__(U)
    user._stampede_transport = marker = object()
    user.__init__(Environment())
    assert user._stampede_transport is marker
    assert U(Environment())._stampede_transport is None


# --- events.request ----------------------------------------------------------------------------


class Thing:
    pass


def test_request_fire_counts_in_the_engine_then_calls_listeners():
    env = Environment()
    seen = []
    env.events.request.add_listener(lambda **kw: seen.append(kw["name"]))
    env.events.request.fire(request_type="X", name="ok", response_time=1.5, response_length=3, exception=None, context={})
    env.events.request.fire(request_type="X", name="bad", response_time=2, response_length=0, exception=ValueError(Thing()))
    assert _runtime.fake_events[0] == ("X", "ok", 1.5, 3, None)
    method, name, rt, length, error = _runtime.fake_events[1]
    assert error.startswith("ValueError(<test_user_loop.Thing object at 0x....>")
    assert seen == ["ok", "bad"]


def test_fire_listeners_only_does_not_count():
    seen = []
    events.request.add_listener(lambda **kw: seen.append(kw["name"]))
    try:
        events.request.fire_listeners_only(request_type="GET", name="/", response_time=1, response_length=1, exception=None)
    finally:
        events.request._handlers.clear()
    assert seen == ["/"] and _runtime.fake_events == []


def test_request_counts_in_the_engine(engine):
    Events().request.fire(request_type="T", name="n", response_time=3, response_length=4, exception="text")
    assert ("record_event", "T", "n", 3, 4, "text") in engine.calls


def test_measure_records_the_exception_text():
    with Events().request.measure("M", "m", response_length=2) as meta:
        meta["name"] = "renamed"
        raise KeyError("in measure")
    [(method, name, rt, length, error)] = _runtime.fake_events
    assert (method, name, length, error) == ("M", "renamed", 2, "KeyError('in measure')")
    assert rt >= 0


def test_listener_exceptions_are_logged_and_flagged(caplog):
    hook = EventHook()
    hook.add_listener(lambda **kw: 1 / 0)
    later = []
    hook.add_listener(lambda **kw: later.append(1))
    hook.fire(x=1)
    assert later == [1]
    assert _runtime.unhandled_greenlet_exception
    assert "Uncaught exception in event handler: \nTraceback" in caplog.text


def test_control_flow_exceptions_pass_through_listeners():
    hook = EventHook()

    def stop(**kw):
        raise StopUser()

    hook.add_listener(stop)
    with pytest.raises(StopUser):
        hook.fire()


def test_a_broken_request_fire_is_logged_like_locusts_stats_listener(caplog):
    Events().request.fire(name="missing request_type")
    assert _runtime.fake_events == [] and _runtime.unhandled_greenlet_exception


def test_08_style_iadd_and_reverse_order_and_deprecated_hook(caplog):
    hook = EventHook()
    order = []
    hook += lambda **kw: order.append(1)
    hook += lambda **kw: order.append(2)
    hook.fire(reverse=True)
    assert order == [2, 1]
    old = DeprecatedEventHook("old hook")
    old.add_listener(lambda **kw: None)
    assert "old hook" in caplog.text


def test_every_locust_event_exists_and_request_is_special():
    names = """request user_error report_to_master worker_report worker_connect spawning_complete
    quitting quit init init_command_line_parser test_start test_stopping test_stop reset_stats
    cpu_warning heartbeat_sent heartbeat_received usage_monitor""".split()
    ev = Events()
    for name in names:
        assert isinstance(getattr(ev, name), EventHook), name
    assert hasattr(ev.request, "fire_listeners_only") and not hasattr(ev.init, "fire_listeners_only")

    class Mine(Events):
        custom: "EventHook"  # Locust only picks up string annotations (its own use `from __future__`)

    # Locust leaves `request` unset on such a subclass; Stampede always gives it one.
    assert isinstance(Mine().custom, EventHook) and hasattr(Mine().request, "fire_listeners_only")


def test_parse_error_blanks_addresses():
    assert parse_error("plain") == "plain"
    assert parse_error(ValueError("x")) == "ValueError('x')"
    assert parse_error(ValueError(Thing())) == "ValueError(<test_user_loop.Thing object at 0x....>)"
    assert StatsError.parse_error(KeyError(1)) == "KeyError(1)"
    assert StatsError("GET", "/", "CatchResponseError('bad')").to_name() == "GET /: 'bad'"  # as Locust


# --- runners, environment, shape ----------------------------------------------------------------


def test_runner_proxies_read_the_fallbacks():
    env = Environment(user_classes=[_counting_user(1)])
    runner = env._create_runner(LocalRunner)
    assert env.runner is runner
    assert (runner.state, runner.user_count, runner.target_user_count, runner.worker_count) == (STATE_INIT, 0, 0, 1)
    assert runner.user_classes_count == {"U": 0}
    runner.quit()
    assert _runtime.fake_quit_requested
    with pytest.raises(RunnerAlreadyExistsError):
        env._create_runner(LocalRunner)


def test_runner_proxies_read_the_engine(engine):
    env = Environment()
    master = MasterRunner(env)
    assert (master.state, master.user_count, master.target_user_count, master.worker_count) == ("running", 5, 9, 3)
    master.quit()
    master.stop()
    master.send_message("hello", {"a": 1}, None)
    assert [c[0] for c in engine.calls if c[0] in ("quit", "stop", "send_message")] == ["quit", "stop", "send_message"]
    assert isinstance(WorkerRunner(env, "h", 1), WorkerRunner)


def test_local_runner_messages_loop_back_and_exceptions_are_listed():
    env = Environment()
    runner = LocalRunner(env)
    got = []
    runner.register_message("ping", lambda environment, msg: got.append((environment, msg.type, msg.data, msg.node_id)))
    runner.send_message("ping", 42)
    assert got == [(env, "ping", 42, "local")]
    with pytest.raises(Exception, match="already had a listener"):
        runner.register_message("ping", print)
    try:
        raise ValueError("x")
    except ValueError as e:
        env.events.user_error.fire(user_instance=None, exception=e, tb=e.__traceback__)
    [row] = runner.exceptions.values()
    assert row["count"] == 1 and row["msg"] == "x" and row["nodes"] == {"local"}


def test_library_mode_has_no_distributed_runners():
    """Local runner and web UI work in library mode (test_library.py); master and worker not."""
    env = Environment()
    for call in (lambda: env.create_master_runner(), lambda: env.create_worker_runner("h", 1)):
        with pytest.raises(NotImplementedError, match="^library mode: "):
            call()


def test_environment_checks_as_locust():
    A = _counting_user(1)
    Z = type("Z", (A,), {"weight": 0})
    env = Environment(user_classes=[A, Z])
    assert env.user_classes == [A] and env.user_classes_by_name == {"U": A}
    with pytest.raises(ValueError, match="There are no users with weight > 0."):
        Environment(user_classes=[Z])
    with pytest.raises(ValueError, match="same class name"):
        Environment(user_classes=[A, _counting_user(1)])
    with pytest.raises(ValueError, match="shape_class should be instance"):
        Environment(shape_class=object())
    assert Environment(stop_timeout=3).stop_timeout == 3
    assert env.catch_exceptions and env.events is not events
    assert Environment(events=events).events is events


def test_assign_equal_weights_flattens_tasksets():
    class TS(TaskSet):
        @task(3)
        def inner(self):
            pass

    class U(User):
        weight = 5
        tasks = [TS]

        @task(4)
        def outer(self):
            pass

    env = Environment(user_classes=[U])
    env.assign_equal_weights()
    assert U.weight == 1 and sorted(t.__name__ for t in U.tasks) == ["inner", "outer"]


def test_shape():
    class Shape(LoadTestShape):
        def tick(self):
            return (self.get_current_user_count() + 1, 1)

    assert LoadTestShape.abstract and not Shape.abstract
    shape = Shape()
    env = Environment(shape_class=shape)
    env._create_runner(LocalRunner)
    assert shape.runner is env.runner
    _runtime.fallback["user_count"] = 4
    assert shape.tick() == (5, 1)
    assert shape.get_run_time() >= 0
    shape.start_time -= 10
    shape.reset_time()
    assert shape.get_run_time() < 1
    with pytest.raises(TypeError):
        LoadTestShape()


def test_parse_timespan():
    assert parse_timespan("20") == 20
    assert parse_timespan("1h20m") == 4800
    assert parse_timespan("3h30m10s") == 12610
    for bad in ("", "1x", "h"):
        with pytest.raises(ValueError):
            parse_timespan(bad)
