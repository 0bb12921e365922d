"""``locust.log``: ``setup_logging``, ``greenlet_exception_logger`` and the
``unhandled_greenlet_exception`` flag, as Locust 2.47 (``locust/log.py``).

``unhandled_greenlet_exception`` is not a plain module global here: reading or setting
``locust.log.unhandled_greenlet_exception`` reads or sets
``stampede._runtime.unhandled_greenlet_exception``, the flag the front turns into exit code 2
(the event hooks set it when a listener raises). The module's class is swapped for one with
that property, the documented way to give a module one.
"""

import logging
import logging.config
import os
import re
import socket
import sys
import types
from collections import deque

from stampede import _runtime

HOSTNAME = re.sub(r"\..*", "", socket.gethostname())


class LogReader(logging.Handler):
    """Keeps the last 500 formatted records (Locust's UI shows them; ``get_logs()``)."""

    def __init__(self):
        super().__init__()
        self.logs = deque(maxlen=500)

    def emit(self, record):
        self.logs.append(self.format(record))


def setup_logging(loglevel, logfile=None):
    """Locust's logging: ``[time] host/LEVEL/logger: message`` on stderr (or ``logfile``),
    ``locust.stats_logger`` plain, and the last records kept for ``get_logs()``."""
    loglevel = loglevel.upper()

    LOGGING_CONFIG = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {
                "format": f"[%(asctime)s] {HOSTNAME}/%(levelname)s/%(name)s: %(message)s",
            },
            "plain": {
                "format": "%(message)s",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
            },
            "console_plain": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
            },
            # by this module's own name: "locust.log" would import real Locust outside the alias
            "log_reader": {"class": f"{__name__}.LogReader", "formatter": "default"},
        },
        "loggers": {
            "locust": {
                "handlers": ["console", "log_reader"],
                "level": loglevel,
                "propagate": False,
            },
            "locust.stats_logger": {
                "handlers": ["console_plain", "log_reader"],
                "level": "INFO",
                "propagate": False,
            },
        },
        "root": {
            "handlers": ["console", "log_reader"],
            "level": loglevel,
        },
    }
    if logfile:
        if logfile_dir := os.path.dirname(logfile):
            os.makedirs(logfile_dir, exist_ok=True)
        # if a file has been specified add a file logging handler and set
        # the locust and root loggers to use it
        LOGGING_CONFIG["handlers"]["file"] = {
            "class": "logging.FileHandler",
            "filename": logfile,
            "formatter": "default",
        }
        LOGGING_CONFIG["loggers"]["locust"]["handlers"] = ["file", "log_reader"]
        LOGGING_CONFIG["root"]["handlers"] = ["file", "log_reader"]

    logging.config.dictConfig(LOGGING_CONFIG)


def get_logs():
    """The records the ``log_reader`` handler kept, oldest first."""
    log_reader_handler = [handler for handler in logging.getLogger("root").handlers if handler.name == "log_reader"]

    if log_reader_handler:
        return list(log_reader_handler[0].logs)

    return []


def greenlet_exception_logger(logger, level=logging.CRITICAL):
    """
    Return a function that can be used as argument to Greenlet.link_exception() that will log the
    unhandled exception to the given logger.
    """

    def exception_handler(greenlet):
        if greenlet.exc_info[0] is SystemExit:
            logger.log(
                min(logging.INFO, level),  # dont use higher than INFO for this, because it sounds way to urgent
                f"sys.exit({greenlet.exc_info[1]}) called (use log level DEBUG for callstack)",
            )
            logger.log(logging.DEBUG, "Unhandled exception in greenlet: %s", greenlet, exc_info=greenlet.exc_info)
        else:
            logger.log(level, "Unhandled exception in greenlet: %s", greenlet, exc_info=greenlet.exc_info)
        _runtime.note_unhandled_exception()

    return exception_handler


class _LogModule(types.ModuleType):
    """This module, with ``unhandled_greenlet_exception`` kept in ``stampede._runtime``."""

    @property
    def unhandled_greenlet_exception(self):
        # Global flag that we set to True if any unhandled exception occurs in a greenlet
        return _runtime.unhandled_greenlet_exception

    @unhandled_greenlet_exception.setter
    def unhandled_greenlet_exception(self, value):
        _runtime.unhandled_greenlet_exception = value


sys.modules[__name__].__class__ = _LogModule
