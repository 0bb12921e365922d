"""The 0.8 dialect (design 7.1): ``Locust``/``HttpLocust`` with ``task_set``, ``min_wait``/
``max_wait`` in milliseconds, ``weight = 10``, ``TaskSet.locust``, mixins, ``stop_timeout``.

No oracle runs 0.8 here: these tests check the shim against the design's description of it.
"""

import random
import sys
import types
import warnings

import gevent
import pytest
from gevent.pool import Group

from locust import HttpLocust, Locust, TaskSet, User, between, task
from locust.env import Environment
from locust.exception import StopUser
from stampede.compat import _legacy
from stampede.compat.user.task import TaskSet as CompatTaskSet


class FakeSession:
    """Records requests; ends the user after ``limit`` of them."""

    log: list = []
    limit = 1000

    def __init__(self, base_url, request_event, user):
        self.base_url = base_url
        self.request_event = request_event
        self.user = user

    def get(self, path, **kw):
        return self._request("GET", path)

    def post(self, path, **kw):
        return self._request("POST", path)

    def _request(self, method, path):
        FakeSession.log.append((type(self.user).__name__, method, path))
        if len(FakeSession.log) >= FakeSession.limit:
            raise StopUser()


@pytest.fixture
def fake_clients(monkeypatch):
    """``stampede.compat.clients`` replaced by a module whose HttpSession is FakeSession."""
    module = types.ModuleType("stampede.compat.clients")
    module.HttpSession = FakeSession
    monkeypatch.setitem(sys.modules, "stampede.compat.clients", module)
    FakeSession.log = []
    FakeSession.limit = 1000
    return FakeSession


@pytest.fixture
def sleeps(monkeypatch):
    """Every TaskSet sleep, recorded instead of slept."""
    seen = []
    monkeypatch.setattr(CompatTaskSet, "_sleep", lambda self, seconds: seen.append(seconds))
    return seen


def _run(user, timeout=5):
    g = user.start(Group())
    g.join(timeout)
    assert g.dead, "user did not end"
    return g


def test_roots_are_abstract_and_subclasses_are_not():
    class V(Locust):
        @task
        def t(self):
            pass

    assert Locust.abstract and HttpLocust.abstract
    assert V.abstract is False
    assert issubclass(Locust, User)
    assert (V.weight, V.min_wait, V.max_wait, V.task_set, V.stop_timeout) == (10, 1000, 1000, None, None)


def test_task_set_becomes_tasks_without_deprecation_warning():
    class B(TaskSet):
        @task
        def t(self):
            pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        class V(Locust):
            task_set = B

    assert V.tasks == [B]
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]


def test_a_subclass_task_set_replaces_its_base():
    class A(TaskSet):
        pass

    class B(TaskSet):
        pass

    class Base(Locust):
        task_set = A

    class Sub(Base):
        task_set = B

    class Same(Base):
        pass

    assert Base.tasks == [A] and Sub.tasks == [B] and Same.tasks == [A]


def test_plain_user_task_set_is_ignored_with_locusts_warning():
    class B(TaskSet):
        @task
        def t(self):
            pass

    with pytest.warns(DeprecationWarning, match=r"Usage of User.task_set is deprecated since version 1.0"):

        class U(User):
            task_set = B

    assert U.tasks == []


def test_notice_is_printed_once_per_name(capsys, monkeypatch):
    monkeypatch.setattr(_legacy, "_announced", set())

    class A(HttpLocust):
        pass

    class B(HttpLocust):
        pass

    class C(Locust):
        pass

    err = capsys.readouterr().err.splitlines()
    assert err == [
        "stampede: HttpLocust is Locust 0.8's name: running it as HttpUser (task_set, min_wait/max_wait in ms)",
        "stampede: Locust is Locust 0.8's name: running it as User (task_set, min_wait/max_wait in ms)",
    ]


def test_waits_are_milliseconds_and_taskset_values_win(sleeps):
    calls = []

    class TS(TaskSet):
        min_wait = 200
        max_wait = 400

        @task
        def t(self):
            calls.append(self)
            if len(calls) == 20:
                raise StopUser()

    class V(Locust):
        task_set = TS
        min_wait = 5000
        max_wait = 9000

    random.seed(3)
    _run(V(Environment()))
    assert len(sleeps) == 19
    assert all(0.2 <= s <= 0.4 for s in sleeps)
    assert all(c.locust is c.user for c in calls)


def test_user_values_when_the_taskset_has_none(sleeps):
    class TS(TaskSet):
        @task
        def t(self):
            if len(sleeps) == 10:
                raise StopUser()

    class V(Locust):
        task_set = TS
        min_wait = 5000
        max_wait = 9000

    random.seed(4)
    _run(V(Environment()))
    assert len(sleeps) == 10 and len(set(sleeps)) > 1
    # random.randint(5000, 9000) ms, as 0.8 did: whole milliseconds in [5 s, 9 s]
    assert all(5.0 <= s <= 9.0 and round(s * 1000) == s * 1000 for s in sleeps)


def test_defaults_are_one_second(sleeps):
    class TS(TaskSet):
        @task
        def t(self):
            if len(sleeps) == 3:
                raise StopUser()

    class V(Locust):
        task_set = TS

    _run(V(Environment()))
    assert sleeps == [1.0, 1.0, 1.0]


def test_wait_function_in_milliseconds(sleeps):
    class TS(TaskSet):
        @task
        def t(self):
            if len(sleeps) == 2:
                raise StopUser()

    class V(Locust):
        task_set = TS
        wait_function = lambda self: 250  # noqa: E731

    class W(Locust):
        task_set = type("TS2", (TS,), {"wait_function": lambda self: 40})

    _run(V(Environment()))
    assert sleeps == [0.25, 0.25]
    sleeps.clear()
    _run(W(Environment()))
    assert sleeps == [0.04, 0.04]


def test_a_2x_wait_time_on_the_class_wins(sleeps):
    class TS(TaskSet):
        @task
        def t(self):
            if len(sleeps) == 2:
                raise StopUser()

    class V(Locust):
        task_set = TS
        wait_time = between(3, 3)

    _run(V(Environment()))
    assert sleeps == [3, 3]


def test_waits_are_scaled(sleeps, engine):
    engine.scale = 0.5

    class TS(TaskSet):
        @task
        def t(self):
            if len(sleeps) == 2:
                raise StopUser()

    class V(Locust):
        task_set = TS
        min_wait = max_wait = 3000

    _run(V(Environment()))
    assert sleeps == [1.5, 1.5]


def test_stop_timeout_ends_the_task_set():
    runs = []

    class TS(TaskSet):
        @task
        def t(self):
            runs.append(1)

    class V(Locust):
        task_set = TS
        min_wait = max_wait = 10
        stop_timeout = 0.1

    g = _run(V(Environment()), timeout=3)
    assert g.successful()
    assert 3 <= len(runs) <= 12


def test_seeds_funnel_shape(fake_clients, sleeps, engine):
    """The seeds' funnel: mixins with a plain SharedTasks class, on_start on a TaskSet,
    module constants as class attributes, HttpLocust with task_set, weights 80/20."""
    engine.scale = 0.0
    HOST, MIN_WAIT, MAX_WAIT = "http://shop", 5000, 9000

    class SharedTasks:
        def register_user(self):
            self.client.get("/account/signup/")
            self.client.post("/account/signup/")

        def find_hoodie(self):
            self.client.get("/products/hoodie/")

        def add_to_cart(self):
            self.client.post("/cart/add/")

        def checkout(self):
            self.client.get("/checkout/")

    class VisitorBehavior(TaskSet, SharedTasks):
        @task(3)
        def just_visiting(self):
            self.client.get("/")

        @task(47)
        def search(self):
            self.find_hoodie()

        @task(25)
        def bail_on_cart(self):
            self.find_hoodie()
            self.add_to_cart()

        @task(25)
        def buy(self):
            self.find_hoodie()
            self.add_to_cart()
            self.checkout()

    class ReturningUserBehavior(TaskSet, SharedTasks):
        def on_start(self):
            self.register_user()

        @task(75)
        def buy(self):
            self.find_hoodie()
            self.checkout()

    class Visitor(HttpLocust):
        task_set = VisitorBehavior
        weight = 80
        host = HOST
        min_wait = MIN_WAIT
        max_wait = MAX_WAIT

    class ReturningUser(HttpLocust):
        task_set = ReturningUserBehavior
        weight = 20
        host = HOST
        min_wait = MIN_WAIT
        max_wait = MAX_WAIT

    assert (Visitor.weight, ReturningUser.weight) == (80, 20)
    assert Visitor.tasks == [VisitorBehavior] and not Visitor.abstract
    env = Environment(user_classes=[Visitor, ReturningUser])
    fake_clients.limit = 40
    user = ReturningUser(env)
    assert user.client.base_url == HOST and user.client.user is user
    assert user.client.request_event is env.events.request
    _run(user)
    assert fake_clients.log[:2] == [("ReturningUser", "GET", "/account/signup/"), ("ReturningUser", "POST", "/account/signup/")]
    assert sleeps and set(sleeps) == {0.0}  # --wait-scale 0

    fake_clients.log = []
    random.seed(1)
    _run(Visitor(env))
    paths = {p for _, _, p in fake_clients.log}
    assert "/products/hoodie/" in paths and len(fake_clients.log) == 40


def test_http_locust_without_host_stops_the_test(fake_clients):
    from locust.exception import StopTest

    class V(HttpLocust):
        pass

    with pytest.raises(StopTest):
        V(Environment())


def test_taskset_locust_and_client_for_2x_classes_too(fake_clients):
    seen = []

    class TS(TaskSet):
        @task
        def t(self):
            seen.append((self.locust, self.client))
            raise StopUser()

    from locust import HttpUser

    class U(HttpUser):
        host = "http://h"
        tasks = [TS]

    user = U(Environment())
    _run(user)
    assert seen == [(user, user.client)]
    gevent.sleep(0)
