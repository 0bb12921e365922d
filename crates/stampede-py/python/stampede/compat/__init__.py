"""``locust``: what ``import locust`` gives a locustfile under ``stampede`` (design 5.2).

The ``stampede._hook`` finder makes ``locust`` *this* module and ``locust.x`` the module
``stampede.compat.x``. The names are Locust 2.47's ``__all__``, with two differences:
``Locust``/``HttpLocust`` are the working 0.8 classes (``_legacy.py``) rather than 2.47's
ImportError stubs, and gevent's monkey-patching is not done here (``stampede``'s entry point
does it before anything imports ``requests``). ``FastHttpUser`` and ``run_single_user``
are imported on first access, so this package loads without their modules (a missing
``run_single_user`` is a stub that raises when called, so ``from locust import *`` works).
"""

from ._legacy import HttpLocust, Locust
from .event import Events
from .shape import LoadTestShape
from .user import wait_time
from .user.markov_taskset import MarkovTaskSet, transition, transitions
from .user.sequential_taskset import SequentialTaskSet
from .user.task import TaskSet, tag, task
from .user.users import HttpUser, User
from .user.wait_time import between, constant, constant_pacing, constant_throughput, poisson

#: The compatibility level: the Locust release whose behaviour this layer copies.
__version__ = "2.47.0"

#: The process's events; ``locust.events`` (the module name) is this same object.
events = Events()

__all__ = (
    "FastHttpUser",
    "HttpLocust",
    "HttpUser",
    "LoadTestShape",
    "Locust",
    "MarkovTaskSet",
    "SequentialTaskSet",
    "TaskSet",
    "User",
    "__version__",
    "between",
    "constant",
    "constant_pacing",
    "constant_throughput",
    "events",
    "poisson",
    "run_single_user",
    "tag",
    "task",
    "transition",
    "transitions",
    "wait_time",
)

#: name -> (module under stampede.compat, attribute): imported on first access.
_LAZY = {
    "FastHttpUser": ("contrib.fasthttp", "FastHttpUser"),
    "run_single_user": ("debug", "run_single_user"),
}


def __getattr__(name):
    """Resolves the names whose modules are optional or heavy, once, on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module 'locust' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as e:
        if e.name is None or not e.name.startswith(f"{__name__}.{module_name.split('.')[0]}"):
            raise
        if name == "run_single_user":
            return _run_single_user_missing  # keeps ``from locust import *`` working
        raise ImportError(
            f"unsupported API: locust.{name} (Stampede's Python front does not provide it yet)", name="locust"
        ) from e
    value = getattr(module, attr)
    globals()[name] = value
    return value


def _run_single_user_missing(*args, **kwargs):
    """Stands in for ``run_single_user`` until ``stampede.compat.debug`` exists: importing
    the name (or ``*``) works; calling it says what is missing."""
    raise NotImplementedError("unsupported API: locust.run_single_user (Stampede's Python front does not provide it yet)")
