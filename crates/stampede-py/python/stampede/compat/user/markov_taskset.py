"""``locust.user.markov_taskset``: ``MarkovTaskSet``, ``transition``, ``transitions``, as in 2.47.

The chain is validated when the class is created, with Locust's errors and warnings, and is
walked with one ``random.choice`` per step over the weighted list of target names, so a
seeded run walks the same path as under Locust.
"""

from __future__ import annotations

import logging
import random

from ..exception import LocustError, _name_as_locust
from .task import TaskSet, TaskSetMeta


class NoMarkovTasksError(LocustError):
    """Raised when a MarkovTaskSet class doesn't define any Markov tasks."""


class InvalidTransitionError(LocustError):
    """Raised when a transition in a MarkovTaskSet points to a non-existent task."""


class NonMarkovTaskTransitionError(LocustError):
    """Raised when a transition in a MarkovTaskSet points to a task that doesn't define transitions."""


class MarkovTaskTagError(LocustError):
    """Raised when tags are used with Markov tasks, which is unsupported."""


def is_markov_task(task):
    """A Markov task is anything with a ``transitions`` attribute."""
    return "transitions" in dir(task)


def transition(func_name: str, weight: int = 1):
    """Decorator adding one transition (to the method named ``func_name``) to a Markov task."""

    def decorator_func(decorated):
        if not hasattr(decorated, "transitions"):
            decorated.transitions = {}

        decorated.transitions[func_name] = weight
        return decorated

    return decorator_func


def transitions(weights):
    """Decorator adding several transitions at once: a dict name -> weight, or a list of
    names (weight 1) and (name, weight) tuples."""

    def parse_list_item(item):
        return item if isinstance(item, tuple) else (item, 1)

    def decorator_func(decorated):
        if not hasattr(decorated, "transitions"):
            decorated.transitions = {}

        decorated.transitions.update(
            weights
            if isinstance(weights, dict)
            else {func_name: weight for func_name, weight in map(parse_list_item, weights)}
        )

        return decorated

    return decorator_func


def get_markov_tasks(class_dict: dict) -> list:
    """The class's own Markov tasks, in declaration order (the first one is the start)."""
    return [fn for fn in class_dict.values() if is_markov_task(fn)]


def to_weighted_list(transitions: dict):
    return [name for name in transitions.keys() for _ in range(transitions[name])]


def validate_has_markov_tasks(tasks: list, classname: str):
    if not tasks:
        raise NoMarkovTasksError(
            f"No Markov tasks defined in class {classname}. Use the @transition(s) decorators to define some."
        )


def validate_transitions(tasks: list, class_dict: dict, classname: str):
    """Every target must exist on the class and be a Markov task itself."""
    for task in tasks:
        for dest in task.transitions.keys():
            dest_task = class_dict.get(dest)
            if not dest_task:
                raise InvalidTransitionError(
                    f"Transition to {dest} from {task.__name__} is invalid since no such element exists on class {classname}"
                )
            if not is_markov_task(dest_task):
                raise NonMarkovTaskTransitionError(
                    f"{classname}.{dest} cannot be used as a target for a transition since it does not define any transitions of its own."
                    + f"Used as a transition from {task.__name__}."
                )


def validate_no_unreachable_tasks(tasks: list, class_dict: dict, classname: str):
    """Warns (does not fail) about tasks the first task cannot reach."""
    visited = set()

    def dfs(task_name):
        visited.add(task_name)
        # Convert to a weighted list first to handle bad weights
        for dest in set(to_weighted_list(class_dict.get(task_name).transitions)):
            if dest not in visited:
                dfs(dest)

    dfs(tasks[0].__name__)
    unreachable = {task.__name__ for task in tasks} - visited

    if len(unreachable) > 0:
        logging.warning(f"The following markov tasks are unreachable in class {classname}: {unreachable}")

    return tasks


def validate_no_tags(task, classname: str):
    if "locust_tag_set" in dir(task):
        raise MarkovTaskTagError(
            "Tags are unsupported for MarkovTaskSet since they can make the markov chain invalid. "
            + f"Tags detected on {classname}.{task.__name__}: {task.locust_tag_set}"
        )


def validate_task_name(decorated_func):
    if decorated_func.__name__ in ["on_stop", "on_start"]:
        logging.warning(
            "You have tagged your on_stop/start function with @transition. This will make the method get called both as a step AND on stop/start."
        )  # this is usually not what the user intended
    if decorated_func.__name__ == "run":
        raise Exception(
            "TaskSet.run() is a method used internally by Locust, and you must not override it or annotate it with transitions"
        )


def validate_markov_chain(tasks: list, class_dict: dict, classname: str):
    validate_has_markov_tasks(tasks, classname)
    validate_transitions(tasks, class_dict, classname)
    validate_no_unreachable_tasks(tasks, class_dict, classname)
    for task in tasks:
        validate_task_name(task)
        validate_no_tags(task, classname)


class MarkovTaskSetMeta(TaskSetMeta):
    """
    Meta class for MarkovTaskSet: validates the chain of a non-abstract class, sets ``current``
    to its first task and turns each task's transitions into a weighted list of names.
    """

    def __new__(mcs, classname, bases, class_dict):
        if not class_dict.get("abstract"):
            class_dict["abstract"] = False

            tasks = get_markov_tasks(class_dict)
            validate_markov_chain(tasks, class_dict, classname)
            class_dict["current"] = tasks[0]
            for task in tasks:
                task.transitions = to_weighted_list(task.transitions)

        return type.__new__(mcs, classname, bases, class_dict)


class MarkovTaskSet(TaskSet, metaclass=MarkovTaskSetMeta):
    """
    Class defining a probabilistic sequence of functions that a User will execute.
    The sequence is defined by a Markov Chain to describe a user's load.
    """

    abstract: bool = True
    """If abstract is True, the class is meant to be subclassed, and the markov chain won't be validated"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

    def get_next_task(self):
        """
        Gets the next task to execute based on the current state and transitions.

        :return: The current task to execute
        """
        fn = self.current

        transitions = getattr(fn, "transitions")
        next = random.choice(transitions)
        self.current = getattr(self, next)

        return fn


_name_as_locust(
    "locust.user.markov_taskset",
    [NoMarkovTasksError, InvalidTransitionError, NonMarkovTaskTransitionError, MarkovTaskTagError],
)
