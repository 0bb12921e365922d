"""``locust.web``: ``WebUI``, for type hints and for ``environment.web_ui``.

Stampede's engine serves the web UI; this class is its handle on the Python side. Locustfiles
use it two ways, both kept working:

- ``@environment.web_ui.app.route("/x")`` in an ``init`` listener: ``app`` is a real Flask app
  when ``flask`` is importable, so the decorator and blueprints register as in Locust. The
  engine does not serve these routes yet (design 8.6 plans a fallback that runs
  ``app.wsgi_app``); registering them does not crash. Without Flask, using ``app`` raises an
  error that says so.
- library mode: ``env.create_web_ui(host, port)`` asks the engine to serve its UI there
  (``_runtime.library_web_ui``), ``web_ui.stop()`` stops it, and ``web_ui.greenlet.join()``
  waits until then, as the server greenlet of Locust's does.

The front builds ``WebUI(env, host, port, delayed_start=True)`` for ``stampede -f``'s web mode,
which starts nothing: the engine serves the UI already.
"""

from __future__ import annotations

import logging
from functools import wraps

import gevent
import gevent.event

from stampede import _runtime

logger = logging.getLogger("locust.web")


class _NoFlask:
    """Stands in for ``WebUI.app`` when Flask is not installed: any use says what is missing."""

    def __getattr__(self, name):
        raise RuntimeError(
            "environment.web_ui.app needs Flask, which is not installed "
            "(pip install flask); Stampede's own web UI does not need it"
        )

    def __bool__(self):
        return False


def _make_app():
    try:
        from flask import Flask
    except ImportError:
        return _NoFlask()
    # Named after this module (which is in sys.modules), so Flask never looks up "locust.web"
    # on its own, which outside the alias would import real Locust.
    return Flask(__name__)


class WebUI:
    """
    The web UI of an Environment. ``app`` is a Flask app for custom routes (see the module's
    docstring for what is served), ``greenlet`` lives while the UI is up.
    """

    app = None
    """Reference to the :class:`flask.Flask` app (custom routes register on it)."""

    greenlet = None
    """Greenlet that lives while the web UI is served (``join()`` waits for ``stop()``)."""

    server = None
    """Locust's WSGI server; None here: the engine serves the UI."""

    def __init__(
        self,
        environment,
        host: str,
        port: int,
        web_base_path: str | None = None,
        web_login: bool = False,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        stats_csv_writer=None,
        delayed_start=False,
        userclass_picker_is_active=False,
        build_path: str | None = None,
    ):
        environment.web_ui = self
        self.environment = environment
        self.host = host
        self.port = port
        self.web_base_path = web_base_path
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.web_login = web_login
        self.stats_csv_writer = stats_csv_writer
        self.userclass_picker_is_active = userclass_picker_is_active
        self.build_path = build_path
        self.app = _make_app()
        self.greenlet = None
        self.template_args = {}
        self.auth_args = {}
        self._login_manager = None
        self._stopped = gevent.event.Event()
        if not delayed_start:
            self.start()

    @property
    def login_manager(self):
        if self.web_login:
            return self._login_manager
        raise AttributeError("The login_manager is only available with --web-login.\n")

    @login_manager.setter
    def login_manager(self, value):
        self._login_manager = value

    def start(self):
        """Asks the engine to serve the UI on ``host``:``port``."""
        self._stopped.clear()
        _runtime.library_web_ui(self)
        self.greenlet = gevent.spawn(self._stopped.wait)

    def stop(self):
        """
        Stop the running web server
        """
        _runtime.library_web_ui_stop(self)
        self._stopped.set()

    def auth_required_if_enabled(self, view_func):
        """Decorator for custom routes, as Locust's. ``--web-login`` (Flask-Login) is not
        provided, so the view is always called as is."""

        @wraps(view_func)
        def wrapper(*args, **kwargs):
            return view_func(*args, **kwargs)

        return wrapper

    #: Older spelling of ``auth_required_if_enabled``, kept for files that use it.
    auth_required = auth_required_if_enabled

    def update_template_args(self):
        """Locust fills ``template_args`` for its React UI here; the engine renders its own."""
