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

    try:
        code = _cli.run(argv)
    except KeyboardInterrupt:
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
