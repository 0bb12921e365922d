"""Locust 0.8's ``Locust`` and ``HttpLocust``, working (design 7.1).

Locust 2.47 turns these names into ImportErrors; the seeds' locustfiles still use them, so
Stampede runs them as ``User``/``HttpUser`` with 0.8's meaning:

- ``task_set = X`` becomes ``tasks = [X]`` (a subclass's own ``task_set`` replaces its base's);
- ``weight`` defaults to 10, ``min_wait``/``max_wait`` to 1000 **milliseconds**;
- without a ``wait_time`` on the class, a wait is ``(taskset.wait_function or
  user.wait_function)()`` ms when one is set, else ``random.randint(min_wait, max_wait)`` ms,
  the TaskSet's values winning over the user's; it is scaled by ``--wait-scale`` like any wait;
- ``stop_timeout`` (seconds) ends the user's TaskSets after that long, as 0.8's loop did;
- ``TaskSet.locust`` (defined in ``user/task.py``) is ``self.user``.

Plain 2.x classes are untouched. The first subclass of each name prints one notice line.
"""

from __future__ import annotations

import random
import sys

from .user.task import get_tasks_from_base_classes
from .user.users import HttpUser, User, UserMeta

_announced: set = set()


def _announce(bases) -> None:
    """One line on stderr the first time each 0.8 name is subclassed."""
    notice = next((b._legacy_notice for b in bases if getattr(b, "_legacy_notice", None)), None)
    if notice and notice not in _announced:
        _announced.add(notice)
        print(f"stampede: {notice}", file=sys.stderr)


class LegacyUserMeta(UserMeta):
    """UserMeta plus 0.8's ``task_set``; the roots (``Locust``, ``HttpLocust``) pass through."""

    def __new__(mcs, classname, bases, class_dict):
        if class_dict.get("_legacy_root"):
            return super().__new__(mcs, classname, bases, class_dict)
        _announce(bases)
        task_set = class_dict.get("task_set")
        own_tasks = None
        if task_set is not None and "tasks" not in class_dict:
            own_tasks = get_tasks_from_base_classes((), {**class_dict, "tasks": [task_set]})
        cls = super().__new__(mcs, classname, bases, class_dict)
        if own_tasks is not None:
            cls.tasks = own_tasks
        return cls

    @staticmethod
    def _check_task_set(class_dict):
        """``task_set`` is this dialect's way to give tasks: no deprecation warning."""


class _Legacy08:
    """0.8's class defaults, shared by ``Locust`` and ``HttpLocust`` (first in their MRO)."""

    min_wait = 1000
    max_wait = 1000
    weight = 10
    task_set = None
    stop_timeout = None
    wait_time = None  # so TaskSet.wait_time falls through to _legacy_wait_time

    def _legacy_wait_time(self, taskset):
        """Seconds to wait after a task of ``taskset``, by 0.8's rules (see module doc)."""
        wait_function = taskset.wait_function or self.wait_function
        if wait_function:
            return wait_function() / 1000.0
        low = taskset.min_wait or self.min_wait
        high = taskset.max_wait or self.max_wait
        return random.randint(low, high) / 1000.0

    @property
    def _legacy_stop_timeout(self):
        return self.stop_timeout


class Locust(_Legacy08, User, metaclass=LegacyUserMeta):
    """Locust 0.8's base user class, run as a ``User``."""

    _legacy_root = True
    _legacy_notice = "Locust is Locust 0.8's name: running it as User (task_set, min_wait/max_wait in ms)"
    abstract = True


class HttpLocust(_Legacy08, HttpUser, metaclass=LegacyUserMeta):
    """Locust 0.8's HTTP user class, run as an ``HttpUser`` (``self.client`` is an HttpSession)."""

    _legacy_root = True
    _legacy_notice = "HttpLocust is Locust 0.8's name: running it as HttpUser (task_set, min_wait/max_wait in ms)"
    abstract = True
