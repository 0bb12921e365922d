"""``locust.shape``: ``LoadTestShape``, as in Locust 2.47 (``locust/shape.py``).

The engine calls ``tick()``; ``runner`` is set to the Environment's runner proxy, so
``get_current_user_count()`` reads the engine's count.
"""

from __future__ import annotations

import time
from abc import ABCMeta, abstractmethod
from typing import ClassVar

from .runners import Runner


class LoadTestShapeMeta(ABCMeta):
    """
    Meta class for LoadTestShape: a class is non-abstract unless it says ``abstract = True``.
    """

    def __new__(mcs, classname, bases, class_dict):
        class_dict["abstract"] = class_dict.get("abstract", False)
        return super().__new__(mcs, classname, bases, class_dict)


class LoadTestShape(metaclass=LoadTestShapeMeta):
    """
    Base class for custom load shapes.
    """

    runner: Runner | None = None
    """Reference to the :class:`Runner <locust.runners.Runner>` instance"""

    abstract: ClassVar[bool] = True

    use_common_options: ClassVar[bool] = False

    def __init__(self):
        self.start_time = time.perf_counter()

    def reset_time(self):
        """
        Resets start time back to 0
        """
        self.start_time = time.perf_counter()

    def get_run_time(self):
        """
        Calculates run time in seconds of the load test
        """
        return time.perf_counter() - self.start_time

    def get_current_user_count(self):
        """
        Returns current actual number of users from the runner
        """
        return self.runner.user_count

    @abstractmethod
    def tick(self):
        """
        Returns ``(user_count, spawn_rate)`` or ``(user_count, spawn_rate, user_classes)`` to
        steer the test, or None to stop it.
        """
        ...
