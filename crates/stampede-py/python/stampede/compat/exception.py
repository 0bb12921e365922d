"""``locust.exception``: Locust 2.47's exceptions, same names, bases and constructors.

Locustfiles catch and raise these by class (``except RescheduleTask``, ``raise StopUser``),
so the hierarchy is copied exactly from ``locust/exception.py``.
"""


class LocustError(Exception):
    pass


class ResponseError(Exception):
    pass


class CatchResponseError(Exception):
    pass


class MissingWaitTimeError(LocustError):
    pass


class InterruptTaskSet(Exception):
    """
    Exception that will interrupt a User when thrown inside a task
    """

    def __init__(self, reschedule=True):
        """
        If *reschedule* is True and the InterruptTaskSet is raised inside a nested TaskSet,
        the parent TaskSet would immediately reschedule another task.
        """
        self.reschedule = reschedule


class StopTest(Exception):
    """
    When raised, Locust will stop the entire test run.
    """


class StopUser(Exception):
    """
    This is only intended to be used internally in task.py.
    Raising this in your locustfile in a full locust run may have unexpected results.
    """

    pass


class RescheduleTask(Exception):
    """
    When raised in a task it's equivalent of a return statement.

    Also used internally by TaskSet. When raised within the task control flow of a TaskSet,
    but not inside a task, the execution should be handed over to the parent TaskSet.
    """


class RescheduleTaskImmediately(Exception):
    """
    When raised in a User task, another User task will be rescheduled immediately (without calling wait_time first)
    """


class RPCError(Exception):
    """
    Exception that shows bad or broken network.

    When raised from zmqrpc, RPC should be reestablished.
    """


class RPCSendError(Exception):
    """
    Exception when sending message to client.

    When raised from zmqrpc, sending can be retried or RPC can be reestablished.
    """


class RPCReceiveError(Exception):
    """
    Exception when receiving message from client is interrupted or message is corrupted.

    When raised from zmqrpc, client connection should be reestablished.
    """

    def __init__(self, *args: object, addr=None) -> None:
        super().__init__(*args)
        self.addr = addr


class RunnerAlreadyExistsError(Exception):
    pass


def _name_as_locust(module_name, classes):
    """Gives classes Locust's module name, so a traceback's last line reads as under Locust
    (``locust.exception.StopUser: ...``). Under ``stampede`` that name is this module."""
    for cls in classes:
        cls.__module__ = module_name


_name_as_locust(
    "locust.exception",
    [v for v in list(globals().values()) if isinstance(v, type) and issubclass(v, BaseException)],
)
