"""Stampede's Python front: ``stampede -f locustfile.py`` runs an unmodified locustfile on
Stampede's Rust engine.

Python runs each user's own loop in a gevent greenlet, as Locust does; the engine
(``stampede._core``) does the HTTP, cookies, statistics, spawning, web UI and distribution.
Inside the ``stampede`` command, ``import locust`` resolves to ``stampede.compat``.
"""

__version__ = "0.1.0"
