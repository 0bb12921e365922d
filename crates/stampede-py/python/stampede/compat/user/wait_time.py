"""``locust.wait_time``: the wait helpers of Locust 2.47 (``locust/user/wait_time.py``).

Same formulas and the same ``random`` calls, so seeded runs wait (and choose) as Locust does.
The only change: ``constant_pacing`` measures the task's run time in unscaled seconds when
``--wait-scale`` is not 1, so that the pacing period is scaled like every other wait (with
Locust's formula unchanged, the period would drift back to the unscaled value).
"""

from __future__ import annotations

import random
from time import perf_counter

from stampede import _runtime


def between(min_wait: float, max_wait: float):
    """
    Returns a function that will return a random number between min_wait and max_wait.

    Example::

        class MyUser(User):
            # wait between 3.0 and 10.5 seconds after each task
            wait_time = between(3.0, 10.5)
    """
    return lambda instance: min_wait + random.random() * (max_wait - min_wait)


def constant(wait_time: float):
    """
    Returns a function that just returns the number specified by the wait_time argument

    Example::

        class MyUser(User):
            wait_time = constant(3)
    """
    return lambda instance: wait_time


def constant_pacing(wait_time: float):
    """
    Returns a function that will track the run time of the tasks, and for each time it's
    called it will return a wait time that will try to make the total time between task
    execution equal to the time specified by the wait_time argument. If a task execution
    exceeds wait_time, the wait is 0. The state lives on the instance (``_cp_last_run``,
    ``_cp_last_wait_time``), as in Locust.
    """

    def wait_time_func(self) -> float:
        run_time: float = _unscaled(perf_counter() - self._cp_last_run) - self._cp_last_wait_time
        self._cp_last_wait_time = max(0, wait_time - run_time)
        self._cp_last_run = perf_counter()
        return self._cp_last_wait_time

    return wait_time_func


def _unscaled(elapsed: float) -> float:
    """Real seconds back in the locustfile's seconds (the wait was slept times the scale)."""
    scale = _runtime.wait_scale()
    if scale == 1.0 or scale <= 0:
        return elapsed
    return elapsed / scale


def constant_throughput(task_runs_per_second: float):
    """
    Returns a function that will track the run time of the tasks, and for each time it's
    called it will return a wait time that will try to make the number of task runs per second
    execution equal to the time specified by the task_runs_per_second argument.
    This is the mathematical inverse of constant_pacing.
    """
    if task_runs_per_second <= 0:
        raise ValueError(f"constant_throughput() requires a positive rate, got: {task_runs_per_second}")
    return constant_pacing(1 / task_runs_per_second)


def poisson(rate: float):
    """
    Returns a function that will return a random wait time sampled from an exponential
    distribution with mean ``1/rate`` seconds, so tasks arrive as a Poisson process.
    """
    if rate <= 0:
        raise ValueError(f"poisson() requires a positive rate, got: {rate}")
    return lambda instance: random.expovariate(rate)
