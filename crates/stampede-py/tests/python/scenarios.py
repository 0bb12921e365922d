"""User classes run under real Locust 2.47 and under ``stampede.compat``, for the differential
tests (``diff_runner.py`` runs them; ``test_differential.py`` compares the traces).

Written against ``locust`` only: imported with real Locust in one process and through
Stampede's finder in another. Each scenario returns a spec; the runner seeds ``random``,
starts one user in a gevent Group, optionally drives it (``driver``), and prints ``TRACE``
plus what it saw (``user_error`` events, log lines, warnings, how the greenlet ended).
"""

from __future__ import annotations

from locust import (
    MarkovTaskSet,
    SequentialTaskSet,
    TaskSet,
    User,
    between,
    constant,
    task,
    transition,
    transitions,
)
from locust.exception import (
    InterruptTaskSet,
    RescheduleTask,
    RescheduleTaskImmediately,
    StopTest,
    StopUser,
)

TRACE: list = []
_limit = [30]
SCENARIOS: dict = {}


def reset(limit):
    TRACE.clear()
    _limit[0] = limit


def step(name):
    """Records a task run; ends the user (StopUser) after the scenario's limit of steps."""
    TRACE.append(name)
    if sum(1 for t in TRACE if isinstance(t, str)) >= _limit[0]:
        raise StopUser()


def scenario(limit=30, seed=7, **env):
    def register(fn):
        SCENARIOS[fn.__name__] = dict(build=fn, limit=limit, seed=seed, env=env)
        return fn

    return register


def recorded(wait):
    """A wait_time that also records each value (rounded), so waits are compared too."""

    def wait_time(self):
        v = wait(self)
        TRACE.append(("wait", round(v, 9)))
        return v

    return wait_time


class Traced:
    """on_start/on_stop recorded with the class name."""

    def on_start(self):
        TRACE.append(("on_start", type(self).__name__))

    def on_stop(self):
        TRACE.append(("on_stop", type(self).__name__))


# --- task choice -----------------------------------------------------------------------------


@scenario()
def weights():
    class U(Traced, User):
        wait_time = constant(0)

        @task(3)
        def a(self):
            step("a")

        @task
        def b(self):
            step("b")

        @task(2)
        def c(self):
            step("c")

    return U


def f_one(user):
    step("one")


def f_two(user):
    step("two")


@scenario()
def tasks_list():
    class U(User):
        wait_time = constant(0)
        tasks = [f_one, f_two, f_two]

    return U


@scenario()
def tasks_dict_and_tuples():
    class Base(User):
        abstract = True
        tasks = {f_one: 2, f_two: 5}

    class U(Base):
        wait_time = constant(0)
        tasks = [(f_one, 1), (f_two, 3)]

        @task(2)
        def own(self):
            step("own")

    return U


@scenario(limit=40)
def nested_tasksets():
    class Inner(Traced, TaskSet):
        @task(3)
        def read(self):
            step("inner.read")

        @task
        def leave(self):
            step("inner.leave")
            self.interrupt()

    class Other(Traced, TaskSet):
        @task
        def go(self):
            step("other.go")
            self.interrupt(reschedule=False)

    class U(Traced, User):
        wait_time = between(0, 0.0001)
        tasks = {Inner: 2, Other: 1}

        @task
        def top(self):
            step("top")

    return U


@scenario(limit=40)
def inline_taskset_and_wait_on_taskset():
    class U(User):
        wait_time = constant(0)

        @task(2)
        class Inline(TaskSet):
            wait_time = between(0, 0.0001)

            @task
            def x(self):
                step("inline.x")

            @task
            def y(self):
                step("inline.y")
                if len(TRACE) % 3 == 0:
                    self.interrupt()

            @task
            class Deeper(TaskSet):
                min_wait = 0
                max_wait = 1

                @task
                def z(self):
                    step("deeper.z")
                    self.interrupt(reschedule=len(TRACE) % 2 == 0)

        @task
        def top(self):
            step("top")

    return U


@scenario(limit=25)
def sequential():
    def listed(ts):
        step("listed")

    class Seq(Traced, SequentialTaskSet):
        @task
        def first(self):
            step("first")

        tasks = [listed, listed]

        @task(2)
        def second(self):
            step("second")

        @task
        def third(self):
            step("third")
            if len(TRACE) > 12:
                self.interrupt()

    class U(User):
        wait_time = between(0, 0.0001)
        tasks = [Seq]

        @task
        def top(self):
            step("top")

    return U


@scenario(limit=40)
def markov():
    class Chain(Traced, MarkovTaskSet):
        @transition("browse", weight=3)
        @transition("home")
        def home(self):
            step("home")

        @transitions({"cart": 1, "browse": 2, "home": 1})
        def browse(self):
            step("browse")

        @transitions([("home", 2), "checkout"])
        def cart(self):
            step("cart")

        @transition("home")
        def checkout(self):
            step("checkout")
            if len(TRACE) > 20:
                self.interrupt()

    class U(User):
        wait_time = constant(0)
        tasks = [Chain]

    return U


# --- control flow ----------------------------------------------------------------------------


@scenario(limit=30)
def reschedule():
    class U(Traced, User):
        wait_time = recorded(between(0, 0.0001))

        @task
        def plain(self):
            step("plain")

        @task
        def later(self):
            step("later")
            raise RescheduleTask()

        @task
        def now(self):
            step("now")
            raise RescheduleTaskImmediately()

    return U


@scenario(limit=12)
def exception_in_task():
    class U(Traced, User):
        wait_time = constant(0)

        @task(2)
        def ok(self):
            step("ok")

        @task
        def bad(self):
            step("bad")
            raise ValueError("boom in task")

        @task
        def key(self):
            step("key")
            {}["missing"]

    return U


@scenario(limit=10, catch_exceptions=False)
def exception_not_caught():
    class U(Traced, User):
        wait_time = constant(0)

        @task
        def ok(self):
            step("ok")

        @task
        def bad(self):
            step("bad")
            raise ValueError("escapes")

    return U


@scenario()
def on_start_raises():
    class U(User):
        wait_time = constant(0)

        def on_start(self):
            TRACE.append("on_start")
            raise RuntimeError("bad start")

        def on_stop(self):
            TRACE.append("on_stop")

        @task
        def t(self):
            step("t")

    return U


@scenario()
def on_start_stop_user():
    class U(User):
        wait_time = constant(0)

        def on_start(self):
            TRACE.append("on_start")
            raise StopUser()

        def on_stop(self):
            TRACE.append("on_stop")

        @task
        def t(self):
            step("t")

    return U


@scenario(limit=20)
def taskset_on_start_interrupts_and_on_stop_raises():
    class Quick(TaskSet):
        def on_start(self):
            TRACE.append("quick.on_start")
            self.interrupt(reschedule=len(TRACE) % 2 == 0)

        @task
        def never(self):
            step("never")

    class Faulty(TaskSet):
        def on_stop(self):
            TRACE.append("faulty.on_stop")
            raise KeyError("on_stop failed")

        @task
        def go(self):
            step("faulty.go")
            self.interrupt()

    class U(User):
        wait_time = constant(0)
        tasks = [Quick, Faulty]

        @task
        def top(self):
            step("top")

    return U


@scenario(limit=8)
def stop_test_in_task():
    class U(Traced, User):
        wait_time = constant(0)

        @task
        def t(self):
            step("t")
            if len(TRACE) > 4:
                raise StopTest("enough")

    return U


@scenario(limit=8)
def interrupt_at_user_level():
    class U(Traced, User):
        wait_time = constant(0)

        @task
        def t(self):
            step("t")
            if len(TRACE) > 3:
                raise InterruptTaskSet(reschedule=False)

    return U


def _stop_after_waits(n):
    """A wait_time that ends the user (StopUser) on its n-th call: for loops that never
    run a task."""

    def wait_time(self):
        TRACE.append("wait")
        if TRACE.count("wait") >= n:
            raise StopUser()
        return 0

    return wait_time


@scenario()
def no_tasks():
    class U(Traced, User):
        wait_time = _stop_after_waits(3)
        task = "oops"

    return U


@scenario()
def no_tasks_on_taskset():
    class Empty(Traced, TaskSet):
        pass

    class U(Traced, User):
        wait_time = _stop_after_waits(3)
        tasks = [Empty]

    return U


@scenario(limit=6)
def missing_wait_time():
    class U(User):
        wait_time = None

        @task
        def t(self):
            step("t")

    return U


@scenario(limit=30)
def min_max_wait_ms():
    class TS(TaskSet):
        min_wait = 0
        max_wait = 2

        @task
        def t(self):
            step("ts.t")

    class U(User):
        wait_time = None
        min_wait = 1
        max_wait = 3
        tasks = [TS]

    return U


@scenario(limit=20)
def overrides():
    class TS(TaskSet):
        def get_next_task(self):
            return self.tasks[len(TRACE) % len(self.tasks)]

        def execute_task(self, task):
            TRACE.append(("execute", task.__name__))
            super().execute_task(task)

        @task
        def a(self):
            step("a")
            self.schedule_task(self.b, first=True)

        @task
        def b(self):
            step("b")

        @task
        def c(self):
            step("c")
            self.wait()

    class U(User):
        wait_time = recorded(between(0, 0.0001))
        tasks = [TS]

    return U


@scenario(limit=15)
def listeners():
    class U(User):
        wait_time = constant(0)

        def on_start(self):
            events = self.environment.events

            def on_error(user_instance, exception, tb, **kw):
                TRACE.append(("listener", type(user_instance).__name__, repr(exception)))
                raise ValueError("listener broke")

            def on_request(request_type, name, response_time, response_length, exception=None, **kw):
                TRACE.append(("request", request_type, name, response_length, repr(exception)))

            events.user_error.add_listener(on_error)
            events.request.add_listener(on_request)

        @task
        def fire(self):
            step("fire")
            self.environment.events.request.fire(
                request_type="X", name="n", response_time=1.5, response_length=3, exception=None, context={}
            )

        @task
        def measured(self):
            step("measured")
            with self.environment.events.request.measure("M", "m", response_length=2):
                raise KeyError("in measure")

        @task
        def bad(self):
            step("bad")
            raise ZeroDivisionError("x")

    return U


# The rest of the scenarios; imported last, as it uses the helpers above.
import scenarios_more  # noqa: E402,F401
