"""``locust.user``: the user classes and task decorators (Locust 2.47's ``locust/user``)."""

__all__ = (
    "HttpUser",
    "TaskSet",
    "User",
    "tag",
    "task",
)
from .task import TaskSet, tag, task
from .users import HttpUser, User
