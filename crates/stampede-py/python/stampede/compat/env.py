"""``locust.env``: ``Environment``, with Locust 2.47's attributes and checks (``locust/env.py``).

Under ``stampede -f`` the front builds one Environment (``events=locust.events``) and gives
each user it. The validation (weight-0 classes removed, unique class names, shape instance)
and the tag filtering are Locust's, done in Python before the run.

``stats`` is the process's ``RequestStats`` (``stampede._runtime.stats()``, which the engine
feeds), so every Environment of a process shares it; assigning one replaces it for all.
Library mode: ``create_local_runner()`` and ``create_web_ui()`` work (the engine, or
without engine Python over ``FakeTransport``, runs the users); master and worker runners
from Python are not provided.
"""

from __future__ import annotations

from operator import methodcaller

from stampede import _runtime

from .event import Events
from .exception import RunnerAlreadyExistsError
from .runners import LocalRunner, MasterRunner, WorkerRunner
from .shape import LoadTestShape
from .user.task import TaskHolder, filter_tasks_by_tags


class Environment:
    def __init__(
        self,
        *,
        user_classes=None,
        shape_class=None,
        tags=None,
        locustfile=None,
        exclude_tags=None,
        events=None,
        host=None,
        reset_stats=False,
        stop_timeout=None,
        catch_exceptions=True,
        parsed_options=None,
        parsed_locustfiles=None,
        available_user_classes=None,
        available_shape_classes=None,
        available_user_tasks=None,
        dispatcher_class=None,
        profile=None,
    ):
        self.runner = None
        """Reference to the :class:`Runner <locust.runners.Runner>` instance"""
        self.web_ui = None
        """Reference to the WebUI instance"""
        self.process_exit_code = None
        """If set it'll be the exit code of the Locust process"""
        self.events = events if events else Events()
        """Event hooks used by Locust internally, as well as to extend Locust's functionality"""
        self.locustfile = locustfile
        self.user_classes = user_classes or []
        self.shape_class = shape_class
        self.tags = tags
        self.exclude_tags = exclude_tags
        self.host = host
        self.reset_stats = reset_stats
        self.profile = profile
        if stop_timeout is not None:
            self.stop_timeout = stop_timeout
        elif parsed_options:
            self.stop_timeout = float(getattr(parsed_options, "stop_timeout", 0.0))
        else:
            self.stop_timeout = 0.0
        self.catch_exceptions = catch_exceptions
        self.parsed_options = parsed_options
        self.parsed_locustfiles = parsed_locustfiles
        self.available_user_classes = available_user_classes
        self.available_shape_classes = available_shape_classes
        self.available_user_tasks = available_user_tasks
        self.dispatcher_class = dispatcher_class
        self.worker_logs = {}

        self._remove_user_classes_with_weight_zero()
        self._validate_user_class_name_uniqueness()
        self._validate_shape_class_instance()

    def _create_runner(self, runner_class, *args, **kwargs):
        """Attaches a runner proxy (the front uses this; it starts nothing)."""
        if self.runner is not None:
            raise RunnerAlreadyExistsError(f"Environment.runner already exists ({self.runner})")
        self.runner = runner_class(self, *args, **kwargs)

        # Attach the runner to the shape class so that the shape class can access user count state
        if self.shape_class:
            self.shape_class.runner = self.runner

        return self.runner

    @property
    def stats(self):
        """Reference to RequestStats instance (the process's; see the module's docstring)"""
        return _runtime.stats()

    @stats.setter
    def stats(self, request_stats):
        _runtime.set_stats(request_stats)

    def create_local_runner(self) -> LocalRunner:
        """
        Create a :class:`LocalRunner <locust.runners.LocalRunner>` instance for this Environment
        (library mode: its ``start()`` runs users, its ``greenlet.join()`` waits for the end).
        """
        runner = self._create_runner(LocalRunner)
        runner._attach_library()
        return runner

    def create_master_runner(self, master_bind_host="*", master_bind_port=5557) -> MasterRunner:
        raise NotImplementedError("library mode: Environment.create_master_runner() is not provided (run stampede --master)")

    def create_worker_runner(self, master_host: str, master_port: int) -> WorkerRunner:
        raise NotImplementedError("library mode: Environment.create_worker_runner() is not provided (run stampede --worker)")

    def create_web_ui(
        self,
        host="",
        port=8089,
        web_base_path=None,
        web_login=False,
        tls_cert=None,
        tls_key=None,
        stats_csv_writer=None,
        delayed_start=False,
        userclass_picker_is_active=False,
        build_path=None,
    ):
        """
        Creates a :class:`WebUI <locust.web.WebUI>` for this Environment: the engine serves its
        web UI on ``host``:``port`` (unless ``delayed_start``; then at ``web_ui.start()``).
        """
        from .web import WebUI

        self.web_ui = WebUI(
            self,
            host,
            port,
            web_login=web_login,
            tls_cert=tls_cert,
            tls_key=tls_key,
            stats_csv_writer=stats_csv_writer,
            delayed_start=delayed_start,
            userclass_picker_is_active=userclass_picker_is_active,
            build_path=build_path,
            web_base_path=web_base_path,
        )
        return self.web_ui

    def update_user_class(self, user_settings):
        """The web UI's user-class editor: set attributes and pick tasks by name."""
        if isinstance(self.runner, MasterRunner):
            self.runner.send_message("update_user_class", user_settings)

        user_class_name = user_settings.get("user_class_name")
        user_class = self.available_user_classes[user_class_name]
        user_tasks = self.available_user_tasks[user_class_name]

        for key, value in user_settings.items():
            if key not in ["user_class_name", "tasks"]:
                setattr(user_class, key, value)
            if key == "tasks":
                user_class.tasks = [task for task in user_tasks if task.__name__ in value]

    def update_worker_logs(self, worker_log_report):
        if worker_log_report.get("worker_id", None):
            self.worker_logs[worker_log_report.get("worker_id")] = worker_log_report.get("logs", [])

    def _filter_tasks_by_tags(self) -> None:
        """
        Filter the tasks on all the user_classes recursively, according to the tags and
        exclude_tags attributes (or ``parsed_options``); only once.
        """
        if getattr(self, "_tasks_filtered", False):
            return  # only filter once
        self._tasks_filtered = True

        if self.tags is not None:
            tags = set(self.tags)
        elif self.parsed_options and getattr(self.parsed_options, "tags", False):
            tags = set(self.parsed_options.tags)
        else:
            tags = None

        if self.exclude_tags is not None:
            exclude_tags = set(self.exclude_tags)
        elif self.parsed_options and getattr(self.parsed_options, "exclude_tags", False):
            exclude_tags = set(self.parsed_options.exclude_tags)
        else:
            exclude_tags = None

        for user_class in self.user_classes:
            filter_tasks_by_tags(user_class, tags, exclude_tags)

    def _remove_user_classes_with_weight_zero(self) -> None:
        """
        Remove user classes having a weight of zero.
        """
        if len(self.user_classes) == 0:
            # Preserve previous behaviour that allowed no user classes to be specified.
            return
        filtered_user_classes = [
            user_class for user_class in self.user_classes if user_class.weight > 0 or user_class.fixed_count > 0
        ]
        if len(filtered_user_classes) == 0:
            raise ValueError("There are no users with weight > 0.")
        self.user_classes[:] = filtered_user_classes

    def assign_equal_weights(self) -> None:
        """
        Update the user classes such that each user runs their specified tasks with equal
        probability.
        """
        for u in self.user_classes:
            u.weight = 1
            user_tasks = []
            tasks_frontier = u.tasks
            while len(tasks_frontier) != 0:
                t = tasks_frontier.pop()
                if isinstance(t, TaskHolder):
                    tasks_frontier.extend(t.tasks)
                elif callable(t):
                    if t not in user_tasks:
                        user_tasks.append(t)
                else:
                    raise ValueError("Unrecognized task type in user")
            u.tasks = user_tasks

    def _validate_user_class_name_uniqueness(self):
        # Validate there's no class with the same name but in different modules
        if len({user_class.__name__ for user_class in self.user_classes}) != len(self.user_classes):
            raise ValueError(
                "The following user classes have the same class name: {}".format(
                    ", ".join(map(methodcaller("fullname"), self.user_classes))
                )
            )

    def _validate_shape_class_instance(self):
        if self.shape_class is not None and not isinstance(self.shape_class, LoadTestShape):
            raise ValueError(
                f"shape_class should be instance of LoadTestShape or subclass LoadTestShape, but got: {self.shape_class}"
            )

    @property
    def user_classes_by_name(self):
        return {u.__name__: u for u in self.user_classes}
