"""More differential scenarios (tags, waits, stopping, class validation); registered in
``scenarios.SCENARIOS`` when ``scenarios`` is imported. Same rules as there: ``locust`` only."""

from __future__ import annotations

import gevent

from locust import (
    MarkovTaskSet,
    SequentialTaskSet,
    TaskSet,
    User,
    between,
    constant,
    constant_pacing,
    constant_throughput,
    poisson,
    tag,
    task,
    transition,
)
from scenarios import TRACE, Traced, f_one, recorded, scenario, step

# --- tags ------------------------------------------------------------------------------------


def _tagged_user():
    class Sub(TaskSet):
        @tag("a")
        @task
        def sa(self):
            step("sub.a")
            self.interrupt()

        @tag("b")
        @task
        def sb(self):
            step("sub.b")
            self.interrupt()

    @tag("c")
    class Tagged(TaskSet):
        @task
        def tc(self):
            step("tagged.c")
            self.interrupt()

    class U(User):
        wait_time = constant(0)
        tasks = [Sub, Tagged]

        @tag("a", "b")
        @task
        def ab(self):
            step("ab")

        @tag("b")
        @task(2)
        def b(self):
            step("b")

        @task
        def untagged(self):
            step("untagged")

    return U


@scenario(tags=["a"])
def tags_include():
    return _tagged_user()


@scenario(exclude_tags=["b"])
def tags_exclude():
    return _tagged_user()


@scenario(tags=["a", "c"], exclude_tags=["b"])
def tags_both():
    return _tagged_user()


# --- waits -----------------------------------------------------------------------------------


@scenario(limit=20)
def wait_between_and_poisson():
    class TS(TaskSet):
        wait_time = recorded(poisson(1000))

        @task
        def p(self):
            step("p")
            if len(TRACE) % 5 == 0:
                self.interrupt()

    class U(User):
        wait_time = recorded(between(0.0001, 0.0003))
        tasks = [TS]

        @task
        def b(self):
            step("b")

    return U


def _pacing(wait, period):
    """Records pacing waits coarsely (they depend on the clock): positive, and within the
    period, as Locust's formula makes them when tasks are shorter than the period."""

    def wait_time(self):
        v = wait(self)
        TRACE.append(("pacing", v > 0, v <= period))
        return v

    return wait_time


@scenario(limit=4)
def wait_constant_pacing():
    class U(User):
        wait_time = _pacing(constant_pacing(0.05), 0.05)

        @task
        def t(self):
            step("t")

    return U


@scenario(limit=4)
def wait_constant_throughput():
    class U(User):
        wait_time = _pacing(constant_throughput(20), 0.05)

        @task
        def t(self):
            step("t")
            gevent.sleep(0.02)

    return U


# --- stopping (driven from outside) ----------------------------------------------------------


def _slow_user(task_sleep, wait):
    class Nested(Traced, TaskSet):
        @task
        def work(self):
            step("work")
            gevent.sleep(task_sleep)

    class U(Traced, User):
        wait_time = constant(wait)
        tasks = [Nested]

    return U


def _driver(delay, force):
    def drive(user):
        gevent.sleep(delay)
        TRACE.append(("state_before_stop", user._state))
        TRACE.append(("stop_returned", user.stop(force=force)))
        user.greenlet.join(2)
        TRACE.append(("state_after", user._state))

    return drive


@scenario(limit=100)
def stop_gracefully_while_running():
    return _slow_user(0.2, 0.0), _driver(0.1, False)


@scenario(limit=100)
def stop_while_waiting():
    return _slow_user(0.0, 0.3), _driver(0.1, False)


@scenario(limit=100)
def stop_forced_while_running():
    return _slow_user(0.3, 0.0), _driver(0.1, True)


# --- class creation: Locust's validation errors and warnings ---------------------------------


def _try(label, build):
    try:
        build()
        TRACE.append(("built", label))
    except Exception as e:
        TRACE.append(("refused", label, type(e).__name__, str(e)))


def _bad_classes():
    def markov_without_tasks():
        class M(MarkovTaskSet):
            pass

    def markov_unknown_target():
        class M(MarkovTaskSet):
            @transition("nowhere")
            def a(self):
                pass

    def markov_non_markov_target():
        class M(MarkovTaskSet):
            @transition("plain")
            def a(self):
                pass

            def plain(self):
                pass

    def markov_tagged():
        class M(MarkovTaskSet):
            @tag("x")
            @transition("a")
            def a(self):
                pass

    def markov_unreachable_and_on_start():
        class M(MarkovTaskSet):
            @transition("a")
            def a(self):
                pass

            @transition("a")
            def on_start(self):
                pass

    def task_named_run():
        class U(User):
            @task
            def run(self):
                pass

    def sequential_bad_tasks():
        class S(SequentialTaskSet):
            tasks = (f_one,)

    def tag_without_name():
        tag()

    def task_on_on_stop():
        class U(User):
            @task
            def on_stop(self):
                pass

    def deprecated_task_set():
        class TS(TaskSet):
            @task
            def t(self):
                pass

        class U(User):
            task_set = TS

        TRACE.append(("tasks", [t.__name__ for t in U.tasks], U.abstract))

    for name, build in list(locals().items()):
        _try(name, build)
    for label, f in (("throughput0", lambda: constant_throughput(0)), ("poisson0", lambda: poisson(-1))):
        _try(label, f)


@scenario(limit=3)
def class_validation():
    _bad_classes()

    class U(User):
        wait_time = constant(0)
        weight = 3
        fixed_count = 2
        host = "http://h"

        @task(2)
        def t(self):
            step("t")

    TRACE.append(("json", U.json()))
    return U
