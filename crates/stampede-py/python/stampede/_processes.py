"""``--processes N``: Locust 2.x's way to use every core. The process forks N workers
before the engine starts (tokio's threads do not survive a fork, so no engine may exist
yet), and becomes their master, or with ``--worker`` only waits for them.

The parent is a master with ``--expect-workers N`` and keeps every other flag; each child is
a worker of ``127.0.0.1`` with the flags a worker uses. When the command line names no
``--master-bind-port``, a free port is taken rather than Locust's fixed 5557, so two runs
on one machine do not collide.
"""

from __future__ import annotations

import os
import socket
import sys
import time

#: Flags (with a value) a forked worker keeps; everything else belongs to the master.
WORKER_VALUE_FLAGS = {
    "--wait-scale", "--think-scale", "-s", "--stop-timeout", "-L", "--loglevel", "-T", "--tags",
    "-E", "--exclude-tags", "--connect-timeout", "--request-timeout", "--max-body", "--max-cookies",
    "--ca-cert",
}
WORKER_FLAGS = {"--insecure"}


def take(argv):
    """``--processes N`` out of ``argv``: (N or None, the rest)."""
    rest, n = [], None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--processes" and i + 1 < len(argv):
            n, i = argv[i + 1], i + 2
            continue
        if a.startswith("--processes="):
            n = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    if n is None:
        n = os.environ.get("STAMPEDE_PROCESSES") or os.environ.get("LOCUST_PROCESSES")
    if n is None:
        return None, rest
    try:
        count = int(n)
    except ValueError:
        raise SystemExit(f"error: --processes takes a number of processes (-1: one per core), not {n!r}")
    if count == -1:
        count = os.cpu_count() or 1
    if count < 1:
        raise SystemExit(f"error: --processes must be at least 1, or -1 for one per core (got {count})")
    return count, rest


def _value(argv, *names):
    for i, a in enumerate(argv):
        for n in names:
            if a == n and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def worker_argv(argv, master_host, master_port):
    """The flags a forked worker keeps, and where its master is."""
    out = ["--worker", "--master-host", master_host, "--master-port", str(master_port)]
    i = 0
    while i < len(argv):
        a = argv[i]
        key = a.split("=", 1)[0]
        if key in WORKER_VALUE_FLAGS:
            if "=" in a:
                out.append(a)
            elif i + 1 < len(argv):
                out += [a, argv[i + 1]]
                i += 1
        elif a in WORKER_FLAGS:
            out.append(a)
        i += 1
    return out


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fork(count, argv):
    """Forks ``count`` workers. Returns (argv for this process, child pids): in a child, its
    worker command line and no pids; in the parent, its master (or waiting worker) line."""
    import gc

    import gevent

    is_worker = "--worker" in argv or os.environ.get("STAMPEDE_WORKER") or os.environ.get("LOCUST_WORKER")
    if is_worker:
        host = _value(argv, "--master-host") or "127.0.0.1"
        port = _value(argv, "--master-port") or "5557"
    else:
        host = "127.0.0.1"
        port = _value(argv, "--master-bind-port")
        if port is None:
            port = str(_free_port())
            argv = [*argv, "--master-bind-port", port]
        if _value(argv, "--master-bind-host") is None:
            # Its workers are its own children: nobody else needs to reach the port.
            argv = [*argv, "--master-bind-host", "127.0.0.1"]
    gc.collect()
    gc.freeze()  # as Locust does: the children share the imported locustfile's pages
    children = []
    for _ in range(count):
        pid = gevent.fork()
        if pid == 0:
            return worker_argv(argv, host, port), []
        children.append(pid)
    if is_worker:
        return None, children
    return [*argv, "--master", "--expect-workers", str(count)], children


def wait_children(children, within=15.0):
    """Reaps the forked workers (they quit when their master says so); kills stragglers."""
    deadline = time.monotonic() + within
    pending = set(children)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                pending.discard(pid)
        time.sleep(0.05)
    for pid in pending:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except OSError:
            pass
    if pending:
        print(f"stampede: {len(pending)} worker process(es) did not quit and were killed", file=sys.stderr)
