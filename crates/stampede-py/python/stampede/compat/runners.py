"""``locust.runners``: the state names and the runner classes, as thin proxies (design 4.7).

Stampede's engine spawns and stops users; these classes exist so that locustfiles can read
``environment.runner.state``, ``user_count``, ``target_user_count``, ``worker_count``, call
``quit()``/``stop()``, exchange custom messages and test ``isinstance(runner, MasterRunner)``.
Every number comes from ``stampede._runtime`` (the engine, or plain fallbacks in tests).
Starting load from Python (library mode) is not wired yet.
"""

from __future__ import annotations

import logging
import socket
import traceback
from uuid import uuid4

from gevent.pool import Group

from stampede import _runtime

logger = logging.getLogger("locust.runners")

STATE_INIT, STATE_SPAWNING, STATE_RUNNING, STATE_CLEANUP, STATE_STOPPING, STATE_STOPPED, STATE_MISSING = [
    "ready",
    "spawning",
    "running",
    "cleanup",
    "stopping",
    "stopped",
    "missing",
]
WORKER_REPORT_INTERVAL = 3.0
WORKER_LOG_REPORT_INTERVAL = 10
CPU_MONITOR_INTERVAL = 10.0
CPU_WARNING_THRESHOLD = 90
HEARTBEAT_INTERVAL = 1
HEARTBEAT_LIVENESS = 3
HEARTBEAT_DEAD_INTERNAL = -60
MASTER_HEARTBEAT_TIMEOUT = 60
FALLBACK_INTERVAL = 5
CONNECT_TIMEOUT = 5
CONNECT_RETRY_COUNT = 60


class Message:
    """A custom message as listeners receive it (``locust.rpc.Message``'s fields)."""

    def __init__(self, message_type, data, node_id):
        self.type = message_type
        self.data = data
        self.node_id = node_id

    def __repr__(self):
        return f"<Message {self.type}:{self.node_id}>"


class Runner:
    """
    The runner of a test, as locustfiles see it. Create it through the Environment
    (``environment.runner``); the engine does the work.
    """

    def __init__(self, environment) -> None:
        self.environment = environment
        self.user_greenlets = Group()
        self.greenlet = Group()
        self.spawning_greenlet = None
        self.shape_greenlet = None
        self.shape_last_tick = None
        self.current_cpu_usage: float = 0.0
        self.cpu_warning_emitted: bool = False
        self.worker_cpu_warning_emitted: bool = False
        self.current_memory_usage: int = 0
        self.exceptions: dict = {}
        self.target_user_classes_count: dict = {}
        self.custom_messages: dict = {}
        self.connection_broken = False
        self.final_user_classes_count: dict = {}

    @property
    def state(self) -> str:
        """One of the ``STATE_*`` values, read from the engine."""
        return _runtime.runner_state()

    @property
    def user_count(self) -> int:
        """:returns: Number of currently running users"""
        return _runtime.user_count()

    @property
    def target_user_count(self) -> int:
        """The count the current ramp is heading for."""
        return _runtime.target_user_count()

    @property
    def user_classes_count(self) -> dict:
        """:returns: Number of currently running users for each user class"""
        counts = {user_class.__name__: 0 for user_class in self.user_classes}
        counts.update(_runtime.user_classes_count())
        return counts

    @property
    def user_classes(self):
        return self.environment.user_classes

    @property
    def user_classes_by_name(self):
        return self.environment.user_classes_by_name

    @property
    def stats(self):
        return self.environment.stats

    @property
    def errors(self):
        return self.stats.errors

    def update_state(self, new_state: str) -> None:
        """The engine owns the state; kept for API parity, does nothing."""

    def cpu_log_warning(self) -> bool:
        return self.cpu_warning_emitted

    def start(self, user_count: int, spawn_rate: float, wait: bool = False, user_classes=None) -> None:
        raise NotImplementedError("library mode: Runner.start() is not wired to the engine yet")

    def start_shape(self) -> None:
        raise NotImplementedError("library mode: Runner.start_shape() is not wired to the engine yet")

    def stop(self) -> None:
        """Stops the test: every user stops, as ``--stop-timeout`` says. Returns at once."""
        _runtime.stop()

    def quit(self) -> None:
        """Stops the test and ends the run. Returns at once."""
        _runtime.quit()

    def log_exception(self, node_id: str, msg: str, formatted_tb: str) -> None:
        key = hash(formatted_tb)
        row = self.exceptions.setdefault(key, {"count": 0, "msg": msg, "traceback": formatted_tb, "nodes": set()})
        row["count"] += 1
        row["nodes"].add(node_id)
        self.exceptions[key] = row

    def register_message(self, msg_type: str, listener, concurrent=False) -> None:
        """
        Register a listener for a custom message from another node

        :param msg_type: The type of the message to listen for
        :param listener: The function to execute when the message is received
        """
        if msg_type in self.custom_messages:
            raise Exception(f"Tried to register listener method for {msg_type}, but it already had a listener!")
        self.custom_messages[msg_type] = (listener, concurrent)

    def send_message(self, msg_type: str, data=None, client_id=None) -> None:
        _runtime.send_message(msg_type, data, client_id)


class LocalRunner(Runner):
    """
    Runner for running single process load test
    """

    def __init__(self, environment) -> None:
        super().__init__(environment)
        # These attributes dont make a lot of sense for LocalRunner
        # but it makes it easier to write tests that work for both local and distributed runs
        self.worker_index = 0
        self.client_id = socket.gethostname() + "_" + uuid4().hex
        self.worker_count = 1

        # register listener that's logs the exception for the local runner
        def on_user_error(user_instance, exception, tb):
            formatted_tb = "".join(traceback.format_tb(tb))
            self.log_exception("local", str(exception), formatted_tb)

        self.environment.events.user_error.add_listener(on_user_error)

    def send_message(self, msg_type: str, data=None, client_id=None) -> None:
        """
        Emulates internodal messaging by calling registered listeners

        :param msg_type: The type of the message to emulate sending
        :param data: Optional data to include
        """
        logger.debug(f"Running locally: sending {msg_type} message to self")
        if msg_type in self.custom_messages:
            listener, concurrent = self.custom_messages[msg_type]
            msg = Message(msg_type, data, "local")
            listener(environment=self.environment, msg=msg)
        else:
            logger.warning(f"Unknown message type received: {msg_type}")


class DistributedRunner(Runner):
    pass


class MasterRunner(DistributedRunner):
    """The master of a distributed run; its workers are the engine's."""

    def __init__(self, environment, master_bind_host="*", master_bind_port=5557) -> None:
        super().__init__(environment)
        self.master_bind_host = master_bind_host
        self.master_bind_port = master_bind_port

    @property
    def worker_count(self) -> int:
        return _runtime.worker_count()


class WorkerRunner(DistributedRunner):
    """A worker of a distributed run."""

    # the worker index is set on ACK, if master provided it (masters <= 2.10.2 do not provide it)
    worker_index = -1

    def __init__(self, environment, master_host: str = "", master_port: int = 5557) -> None:
        super().__init__(environment)
        self.master_host = master_host
        self.master_port = master_port
        self.client_id = socket.gethostname() + "_" + uuid4().hex
