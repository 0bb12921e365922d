"""The ``stampede`` command: Locust's command line, a locustfile, Stampede's engine.

Order of work, as Locust's own ``main`` does it: gevent's monkey-patch first (before
anything imports ``requests`` or ``ssl``), then the ``locust`` alias, then the locustfile,
then the full command line (one parser: the engine's clap; the locustfile's own arguments
from ``init_command_line_parser`` are taken out first), then the run.
"""

from __future__ import annotations

import os
import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not (os.environ.get("LOCUST_SKIP_MONKEY_PATCH") or os.environ.get("STAMPEDE_SKIP_MONKEY_PATCH")):
        from gevent import monkey

        monkey.patch_all()
    from stampede import _hook

    try:
        _hook.install()
    except _hook.LocustAlreadyImported as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from stampede import _cli

    if argv and argv[0].endswith(".py") and os.path.isfile(argv[0]) and "-f" not in argv:
        return _run_script(argv)
    try:
        code = _cli.run(argv)
    except KeyboardInterrupt:
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _run_script(argv) -> int:
    """``python -m stampede script.py [ARGS]``: a script that uses Locust as a library, or a
    locustfile that calls ``run_single_user``, run with ``import locust`` resolving to
    Stampede and the engine behind its runner."""
    import runpy

    from stampede import _library, _runtime

    _runtime.engine = _library.LibraryEngine()
    sys.argv = list(argv)
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
