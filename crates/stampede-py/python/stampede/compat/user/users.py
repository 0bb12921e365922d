"""``locust.user.users``: ``User``, ``HttpUser`` and ``RestMixin``, following Locust 2.47.

The user loop (``User.run``), its states and its stopping rules (``start(group)``,
``stop(force)``) are Locust's (``locust/user/users.py``), because Stampede's engine stops
Python users through them (design 4.4). Stampede adds:

- ``_stampede_transport``: the engine's per-user HTTP transport. None on the class; the front
  sets it on the instance *before* ``__init__`` runs (``HttpUser.__init__`` builds the
  session), so ``__init__`` must not reset it.
- the 0.8 hooks ``_legacy_wait_time`` / ``_legacy_stop_timeout`` (None: 2.x behaviour).
- ``on_start`` failures are also counted in the engine's Exceptions tab.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
import warnings
from contextlib import contextmanager
from json.decoder import JSONDecodeError
from typing import Generic, TypeVar

from gevent import GreenletExit

from stampede import _runtime

from ..exception import StopTest, StopUser
from .task import (
    LOCUST_STATE_RUNNING,
    LOCUST_STATE_STOPPING,
    LOCUST_STATE_WAITING,
    DefaultTaskSet,
    TaskSet,
    get_tasks_from_base_classes,
)
from .wait_time import constant

logger = logging.getLogger("locust.user.users")

# Locust shows its DeprecationWarnings always (locust/util/deprecation.py); so do we.
warnings.filterwarnings("always", category=DeprecationWarning, module="stampede.compat")


def check_for_deprecated_task_set_attribute(class_dict):
    """2.x ignores ``task_set`` on a User; warn as Locust does (``util/deprecation.py``)."""
    if "task_set" in class_dict:
        task_set = class_dict["task_set"]
        if issubclass(task_set, TaskSet) and not hasattr(task_set, "locust_task_weight"):
            warnings.warn(
                "Usage of User.task_set is deprecated since version 1.0. Set the tasks attribute instead "
                f"(tasks = [{task_set.__name__}])",
                DeprecationWarning,
            )


class UserMeta(type):
    """
    Meta class for the main User class. It's used to allow User classes to specify task execution
    ratio using an {task:int} dict, or a [(task0,int), ..., (taskN,int)] list.
    """

    def __new__(mcs, classname, bases, class_dict):
        # gather any tasks that is declared on the class (or it's bases)
        tasks = get_tasks_from_base_classes(bases, class_dict)
        class_dict["tasks"] = tasks

        if not class_dict.get("abstract"):
            # Not a base class
            class_dict["abstract"] = False

        mcs._check_task_set(class_dict)

        return type.__new__(mcs, classname, bases, class_dict)

    @staticmethod
    def _check_task_set(class_dict):
        """Overridden by the 0.8 shim's metaclass, for which ``task_set`` is meant."""
        check_for_deprecated_task_set_attribute(class_dict)


class User(metaclass=UserMeta):
    """
    Represents a "user" which is to be spawned and attack the system that is to be load tested.

    The behaviour of this user is defined by its tasks, declared with ``@task`` on methods or
    in the ``tasks`` attribute.
    """

    host: str | None = None
    """Base hostname to swarm. i.e: http://127.0.0.1:1234"""

    min_wait = None
    """Deprecated: Use wait_time instead. Minimum waiting time between the execution of locust tasks"""

    max_wait = None
    """Deprecated: Use wait_time instead. Maximum waiting time between the execution of locust tasks"""

    wait_time = constant(0)
    """Method that returns the time (in seconds) between the execution of locust tasks."""

    wait_function = None
    """Deprecated: Use wait_time instead (milliseconds)."""

    tasks: list = []
    """Collection of python callables and/or TaskSet classes that the Locust user(s) will run."""

    weight: float = 1
    """Probability of user class being chosen. The higher the weight, the greater the chance of it being chosen."""

    fixed_count: int = 0
    """If > 0, weight is ignored and exactly this many instances are spawned (first)."""

    abstract: bool = True
    """If abstract is True, the class is meant to be subclassed, and locust will not spawn users of this class during a test."""

    _stampede_transport = None
    """The engine's transport for this user's ``client``; set by the front, None in tests."""

    _legacy_wait_time = None
    _legacy_stop_timeout = None

    def __init__(self, environment) -> None:
        super().__init__()
        self.environment = environment
        """A reference to the :py:class:`Environment <locust.env.Environment>` in which this user is running"""
        self._state: str | None = None
        self._greenlet = None
        self._group = None
        self._taskset_instance: TaskSet | None = None
        self._cp_last_run: float = time.perf_counter()  # used by constant_pacing wait_time
        self._cp_last_wait_time: float = 0  # used by constant_pacing wait_time

    def on_start(self) -> None:
        """
        Called when a User starts running.
        """
        pass

    def on_stop(self):
        """
        Called when a User stops running (is killed)
        """
        pass

    def run(self):
        self._state = LOCUST_STATE_RUNNING
        self._taskset_instance = DefaultTaskSet(self)
        try:
            # run the User on_start method, if it has one
            try:
                self.on_start()
            except Exception as e:
                # unhandled exceptions inside tasks are logged in TaskSet.run, but since we're not yet there...
                logger.error("%s\n%s", e, traceback.format_exc())
                if not isinstance(e, (StopUser, StopTest)):
                    self.environment.events.user_error.fire(user_instance=self, exception=e, tb=e.__traceback__)
                    _runtime.record_exception(self, e, "".join(traceback.format_tb(e.__traceback__)))
                raise

            self._taskset_instance.run()
        except (GreenletExit, StopUser, StopTest):
            # run the on_stop method, if it has one
            self.on_stop()

    def wait(self):
        """
        Make the running user sleep for a duration defined by the User.wait_time
        function. The user can also be killed gracefully while it's sleeping.
        """
        self._taskset_instance.wait()

    def start(self, group):
        """
        Start a greenlet that runs this User instance.

        :param group: Group instance where the greenlet will be spawned.
        :type group: gevent.pool.Group
        :returns: The spawned greenlet.
        """

        def run_user(user):
            """
            Main function for User greenlet. It's important that this function takes the user
            instance as an argument, since we use greenlet_instance.args[0] to retrieve a reference to the
            User instance.
            """
            user.run()

        self._greenlet = group.spawn(run_user, self)
        self._group = group
        return self._greenlet

    def stop(self, force: bool = False):
        """
        Stop the user greenlet.

        :param force: If False (the default) the stopping is done gracefully by setting the state to LOCUST_STATE_STOPPING
                      which will make the User instance stop once any currently running task is complete and on_stop
                      methods are called. If force is True the greenlet will be killed immediately.
        :returns: True if the greenlet was killed immediately, otherwise False
        """
        if force or self._state in (None, LOCUST_STATE_WAITING):
            self._group.killone(self._greenlet)
            return True
        elif self._state == LOCUST_STATE_RUNNING:
            self._state = LOCUST_STATE_STOPPING
            return False
        else:
            raise Exception(f"Tried to stop User in an unexpected state: {self._state}. This should never happen.")

    @property
    def group(self):
        return self._group

    @property
    def greenlet(self):
        return self._greenlet

    def context(self) -> dict:
        """
        Adds the returned value (a dict) to the context for :ref:`request event <request_context>`.
        Override this in your User class to customize the context.
        """
        return {}

    @classmethod
    def json(cls):
        return {
            "host": cls.host,
            "weight": cls.weight,
            "fixed_count": cls.fixed_count,
            "tasks": [task.__name__ for task in cls.tasks],
        }

    @classmethod
    def fullname(cls) -> str:
        """Fully qualified name of the user class, e.g. my_package.my_module.MyUserClass"""
        return ".".join(filter(lambda x: x != "<locals>", (cls.__module__ + "." + cls.__qualname__).split(".")))


RestResponseT = TypeVar("RestResponseT")


class RestMixin(Generic[RestResponseT]):
    """
    Provides the ``rest`` and ``rest_`` methods for User classes that have an HTTP ``client``
    (HttpUser and FastHttpUser), copied from Locust 2.47.
    """

    _callstack_regex = re.compile(r'  File "(\/.[^"]*)", line (\d*),(.*)')

    @contextmanager
    def rest(self, method, url, headers: dict | None = None, **kwargs):
        """
        ``self.client.request(..., catch_response=True)`` with JSON defaults: parses the body into
        ``resp.js`` (failing the request if it is not JSON) and turns an exception in the block
        into a failure instead of ending the task.
        """
        headers = dict(headers) if headers else {}
        if not ("Content-Type" in headers or "content-type" in headers):
            headers["Content-Type"] = "application/json"
        if not ("Accept" in headers or "accept" in headers):
            headers["Accept"] = "application/json"
        with self.client.request(method, url, catch_response=True, headers=headers, **kwargs) as r:
            resp = r
            resp.js = None
            if resp.content is None:
                resp.failure(str(resp.error))
            elif resp.text:
                try:
                    resp.js = resp.json()
                except JSONDecodeError as e:
                    resp.failure(
                        f"Could not parse response as JSON. {resp.text[:250]}, response code {resp.status_code}, error {e}"
                    )
            try:
                yield resp
            except AssertionError as e:
                self._rest_assertion_failed(resp, e)
            except Exception as e:
                self._rest_exception(resp, e)

    @staticmethod
    def _rest_assertion_failed(resp, e):
        if e.args:
            if e.args[0].endswith(","):
                short_resp = resp.text[:200] if resp.text else resp.text
                resp.failure(f"{e.args[0][:-1]}, response was {short_resp}")
            else:
                resp.failure(e.args[0])
        else:
            resp.failure("Assertion failed")

    def _rest_exception(self, resp, e):
        # Called inside the except block, so format_exc() sees the exception (as in Locust).
        error_lines = []
        for l in traceback.format_exc().split("\n"):
            if m := self._callstack_regex.match(l):
                filename = re.sub(r"/((home|Users)/\w*)/", "~/", m.group(1))
                error_lines.append(filename + ":" + m.group(2) + m.group(3))
            short_resp = resp.text[:200] if resp.text else resp.text
            resp.failure(f"{e.__class__.__name__}: {e} at {', '.join(error_lines)}. Response was {short_resp}")

    @contextmanager
    def rest_(self, method, url, name=None, **kwargs):
        """
        Some REST api:s use a timestamp as part of their query string (mainly to break through caches).
        This is a convenience method for that, appending a _=<timestamp> parameter automatically
        """
        separator = "&" if "?" in url else "?"
        if name is None:
            name = url + separator + "_=..."
        with self.rest(method, f"{url}{separator}_={int(time.time() * 1000)}", name=name, **kwargs) as resp:
            yield resp


class HttpUser(User, RestMixin):
    """
    Represents an HTTP "user": a User whose ``client`` is an ``HttpSession`` (requests-style,
    with cookies kept between requests). The requests themselves are made by the engine.
    """

    abstract: bool = True
    """If abstract is True, the class is meant to be subclassed, and users will not choose this locust during a test"""

    pool_manager = None
    """Locust's connection pool manager. Refused by the front when set (the engine pools)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.host is None:
            raise StopTest(
                "You must specify the base host. Either in the host attribute in the User class, or on the command line using the --host option."
            )
        from ..clients import HttpSession  # written separately; imported on first use

        self.client = HttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            user=self,
        )
        """
        Instance of HttpSession that is created upon instantiation of Locust.
        The client supports cookies, and therefore keeps the session between HTTP requests.
        """
        self.client.trust_env = False

