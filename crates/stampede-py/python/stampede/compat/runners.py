"""``locust.runners``: the state names and the runner classes, as thin proxies (design 4.7).

Stampede's engine spawns and stops users; these classes exist so that locustfiles can read
``environment.runner.state``, ``user_count``, ``target_user_count``, ``worker_count``, call
``quit()``/``stop()``, exchange custom messages and test ``isinstance(runner, MasterRunner)``.
Every number comes from ``stampede._runtime`` (the engine, or plain fallbacks in tests).

Library mode (``env.create_local_runner()``, ``runner.start(n, r)``, ``runner.quit()``,
``runner.greenlet.join()``) goes through ``_runtime.library_start``/``library_quit``/
``library_join``: the engine runs the users (or, without engine, Python does over
``FakeTransport``). What Locust's runner does in Python before it spawns (clearing the stats,
filtering tasks by tags, setting each class's host) is done here, engine or not.
"""

from __future__ import annotations

import logging
import socket
import time
import traceback
from uuid import uuid4

import gevent
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
        self._library = False
        self._keeper = None
        self._keeper_started = False

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

    def _attach_library(self) -> None:
        """Library mode (``Environment.create_local_runner``): ``self.greenlet`` gets a
        greenlet that lives until the run ends, as Locust's CPU monitor keeps its group alive
        until ``quit()``; so ``runner.greenlet.join()`` waits for the end of the run."""
        self._library = True

        def keep():
            self._keeper_started = True
            _runtime.library_join()

        self._keeper = self.greenlet.spawn(keep)

    def start(self, user_count: int, spawn_rate: float, wait: bool = False, user_classes=None) -> None:
        """Starts (or re-targets) the test: ``user_count`` users at ``spawn_rate`` per second.
        Returns at once, as Locust's does (``wait`` and ``user_classes`` are not supported:
        every class of the environment is used)."""
        if spawn_rate > 100:
            logger.warning(
                "Your selected spawn rate is very high (>100), and this is known to sometimes cause issues. Do you really need to ramp up that fast?"
            )
        if self.state not in (STATE_RUNNING, STATE_SPAWNING):
            self.stats.clear_all()
            self.exceptions = {}
            self.cpu_warning_emitted = False
            self.worker_cpu_warning_emitted = False
            self.environment._filter_tasks_by_tags()
        host = self.environment.host
        if host:
            for user_class in self.user_classes:
                user_class.host = host
        _runtime.library_start(self.environment, user_count, spawn_rate, host)

    def start_shape(self) -> None:
        """Runs ``environment.shape_class`` as Locust's ``shape_worker`` does: a tick every
        second, ``start()`` on each change, ``quit()``/``stop()`` when it returns None."""
        if self.shape_greenlet:
            logger.info("There is an ongoing shape test running. Editing is disabled")
            return
        logger.info("Shape test starting.")
        self.shape_greenlet = self.greenlet.spawn(self._shape_worker)
        if self.environment.shape_class is not None:
            self.environment.shape_class.reset_time()

    def _shape_worker(self) -> None:
        logger.info("Shape worker starting")
        while self.state in (STATE_INIT, STATE_SPAWNING, STATE_RUNNING):
            shape_adjustment_start = time.time()
            shape = self.environment.shape_class
            current_tick = shape.tick() if shape is not None else None
            if current_tick is None:
                logger.info("Shape test stopping")
                options = self.environment.parsed_options
                self.shape_greenlet = None
                self.shape_last_tick = None
                if options and getattr(options, "headless", False):
                    self.quit()
                else:
                    self.stop()
                return
            elif self.shape_last_tick != current_tick:
                user_count, spawn_rate = current_tick[0], current_tick[1]
                logger.info("Shape test updating to %d users at %.2f spawn rate" % (user_count, spawn_rate))
                self.start(user_count=user_count, spawn_rate=spawn_rate)
                self.shape_last_tick = current_tick
            gevent.sleep(max(1 - (time.time() - shape_adjustment_start), 0))

    def stop(self) -> None:
        """Stops the test: every user stops, as ``--stop-timeout`` says."""
        _runtime.stop()

    def quit(self) -> None:
        """Stops the test and ends the run (library mode: ``runner.greenlet.join()`` returns)."""
        if not self._library:
            _runtime.quit()
            return
        _runtime.library_quit()
        if self._keeper is not None and not self._keeper_started:
            # quit before the keeper ever ran: it would wait for a run that already ended
            self._keeper.kill(block=False)

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

    @property
    def clients(self) -> "WorkerNodes":
        """The workers as Locust's master keeps them (``runners.WorkerNodes``): iterating
        gives their ids; ``all``, ``ready``, ``spawning``, ``running``, ``missing``."""
        return WorkerNodes(WorkerNode(i, s, n) for i, s, n in _runtime.worker_rows())


class WorkerNode:
    """One worker as a master sees it (``id``, ``state``, ``user_count``)."""

    def __init__(self, id: str, state: str, user_count: int) -> None:
        self.id = id
        self.state = state
        self.user_count = user_count

    def __repr__(self):
        return f"<WorkerNode {self.id} {self.state}>"


class WorkerNodes(dict):
    """Workers by id (Locust's ``WorkerNodes``); a snapshot, read when asked for."""

    def __init__(self, nodes=()) -> None:
        super().__init__((n.id, n) for n in nodes)

    def _in(self, *states):
        return [n for n in self.values() if n.state in states]

    @property
    def all(self):
        return list(self.values())

    @property
    def ready(self):
        return self._in(STATE_INIT, "ready")

    @property
    def spawning(self):
        return self._in(STATE_SPAWNING)

    @property
    def running(self):
        return self._in(STATE_RUNNING)

    @property
    def missing(self):
        return self._in(STATE_MISSING)


class WorkerRunner(DistributedRunner):
    """A worker of a distributed run."""

    # the worker index is set on ACK, if master provided it (masters <= 2.10.2 do not provide it)
    worker_index = -1

    def __init__(self, environment, master_host: str = "", master_port: int = 5557) -> None:
        super().__init__(environment)
        self.master_host = master_host
        self.master_port = master_port
        self.client_id = socket.gethostname() + "_" + uuid4().hex
