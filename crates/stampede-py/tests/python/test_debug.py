"""``locust.debug`` and ``locust.log`` against real Locust 2.47.

- ``run_single_user``: the same locustfile runs as a script under real Locust (``python
  locustfile.py --host URL``) and under Stampede without engine (the ``locust`` alias, users
  over ``FakeTransport``), both in subprocesses, against one loopback server; stdout (the
  ``PrintListener`` lines, the listeners' prints) must be equal but for the response times.
- ``PrintListener`` alone, with every column, fed the same events under both.
- ``setup_logging``: the same log calls give the same stderr lines (times masked).
In this process: what ``run_single_user`` leaves behind (stats, events, the instance).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from _diffserver import DiffServer
from stampede import _runtime

HERE = os.path.dirname(os.path.abspath(__file__))
PY_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "python"))

#: Runs a script as ``python -m stampede SCRIPT`` will: monkey-patch, the alias, then the file.
_STAMPEDE_SCRIPT = """
import sys
from gevent import monkey
monkey.patch_all()
sys.path.insert(0, {py_dir!r})
from stampede import _hook
_hook.install()
import runpy
path = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(path, run_name="__main__")
"""

LOCUSTFILE = """
from locust import HttpUser, task, constant, events
from locust.exception import StopUser


@events.init.add_listener
def on_init(environment, runner, web_ui, **kw):
    print("INIT", environment.host, environment.locustfile, runner, web_ui, environment.parsed_options.flavour)


@events.init_command_line_parser.add_listener
def add_args(parser):
    parser.add_argument("--flavour", default="plain")


@events.test_start.add_listener
def on_test_start(environment, **kw):
    print("TEST_START", type(environment).__name__)


class U(HttpUser):
    wait_time = constant(0)

    @task
    def t(self):
        self.client.get("/ok")
        self.client.get("/404")
        self.client.post("/echo", data=b"payload", name="posted")
        with self.client.get("/ok", catch_response=True) as r:
            r.failure("bad body")
        self.client.get("/custom")
        self.client.get("/json", context={"k": 1})
        raise StopUser()

    def on_stop(self):
        print("ON_STOP", self.environment.single_user_instance is self)


if __name__ == "__main__":
    from locust import run_single_user
    run_single_user(U, include_length=True, include_context=True, loglevel="ERROR")
    print("RETURNED")
"""


def _run(args, cwd, stampede):
    cmd = [sys.executable, "-c", _STAMPEDE_SCRIPT.format(py_dir=PY_DIR)] if stampede else [sys.executable]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "STAMPEDE_"))}
    try:
        out = subprocess.run(cmd + args, cwd=cwd, capture_output=True, text=True, timeout=90, env=env)
    except subprocess.TimeoutExpired as e:  # say where it stood
        raise AssertionError(f"{'stampede' if stampede else 'locust'} timed out:\n{e.stdout}\n{e.stderr}") from None
    assert out.returncode == 0, out.stderr
    return out


def _mask_times(stdout):
    """The third column of a request line (``resp_ms``) varies from run to run."""
    lines = []
    for line in stdout.splitlines():
        cols = line.split("\t")
        if len(cols) > 3 and cols[0] in ("GET", "POST"):
            cols[2] = "N".ljust(7)
        lines.append("\t".join(cols))
    return lines


@pytest.fixture(scope="module")
def server():
    s = DiffServer()
    yield s
    s.shutdown()


def test_run_single_user_prints_what_locust_prints(server, tmp_path):
    path = tmp_path / "locustfile.py"
    path.write_text(LOCUSTFILE)
    args = [str(path), "--host", server.url, "--flavour", "spicy"]
    theirs = _mask_times(_run(args, tmp_path, stampede=False).stdout)
    mine = _mask_times(_run(args, tmp_path, stampede=True).stdout)
    assert mine == theirs
    joined = "\n".join(mine)
    assert "INIT " + server.url + " locustfile.py None None spicy" in joined
    assert "HTTPError('404 Client Error: Not Found for url: /404')" in joined and "bad body" in joined
    assert mine[-2:] == ["ON_STOP True", "RETURNED"]


_PRINT_EVENTS = """
import sys
{prelude}
from locust.debug import PrintListener
from locust.env import Environment
from locust.exception import CatchResponseError
class Req:
    payload = b"sent body"
class Resp:
    _request = Req()
env = Environment()
for flags in ([False] * 4, [True, False, True, True]):
    PrintListener(env, *flags)
    for kw in (
        dict(request_type="GET", name="/short", response_time=12.6, response_length=5, exception=None, context={{}},
             response=Resp()),
        dict(request_type="POST", name="/" + "x" * 70, response_time=None, response_length=0,
             exception=CatchResponseError("multi\\nline"), context={{"a": 1}}, start_time=1700000000.5,
             response=Resp()),
        dict(request_type="GET", name=None, response_time=0.4, response_length=9, exception=ValueError("v" * 600),
             context=None, start_time=1700000000.5, response=Resp()),
    ):
        env.events.request.fire(**kw)
    env.events.request._handlers.clear()
"""


def test_print_listener_columns_match_locust():
    theirs = subprocess.run([sys.executable, "-c", _PRINT_EVENTS.format(prelude="import locust")],
                            capture_output=True, text=True, timeout=60)
    prelude = f"sys.path.insert(0, {PY_DIR!r})\nfrom stampede import _hook\n_hook.install()"
    mine = subprocess.run([sys.executable, "-c", _PRINT_EVENTS.format(prelude=prelude)],
                          capture_output=True, text=True, timeout=60)
    assert theirs.returncode == 0 and mine.returncode == 0, theirs.stderr + mine.stderr
    # (every event carries a response: Locust's listener raises for one without ``_request``,
    # which is every HttpUser response; Stampede prints its body or None instead)
    assert mine.stdout == theirs.stdout
    assert "sent body" in mine.stdout and "1700000000" not in mine.stdout  # the time is a date


_LOGGING = """
import logging, sys
{prelude}
from locust.log import setup_logging, get_logs, greenlet_exception_logger
import locust.log
setup_logging("info")
logging.getLogger("locust.main").info("hello %s", 1)
logging.getLogger("locust.stats_logger").info("plain line")
logging.getLogger("mine").warning("root line")
logging.getLogger("locust.runners").debug("hidden")
import gevent
g = gevent.spawn(lambda: 1 / 0)
g.link_exception(greenlet_exception_logger(logging.getLogger("locust.x"), level=logging.ERROR))
gevent.sleep(0.05)
print(locust.log.unhandled_greenlet_exception, len(get_logs()), file=sys.stderr)
"""


def test_setup_logging_lines_match_locust():
    def run(prelude):
        out = subprocess.run([sys.executable, "-c", _LOGGING.format(prelude=prelude)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        text = re.sub(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]", "[T]", out.stderr, flags=re.M)
        text = re.sub(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", "T ", text, flags=re.M)  # gevent's own line
        return [l for l in text.splitlines() if not l.startswith(("  File", "    ")) and "Traceback" not in l]

    theirs = run("import locust")
    mine = run(f"sys.path.insert(0, {PY_DIR!r})\nfrom stampede import _hook\n_hook.install()")
    strip = lambda lines: [re.sub(r"<Greenlet at 0x[0-9a-f]+: ", "<Greenlet at 0x..: ", l) for l in lines]  # noqa: E731
    assert strip(mine) == strip(theirs)
    assert any("/INFO/locust.main: hello 1" in l for l in mine) and "plain line" in mine and mine[-1].startswith("True ")


def test_unhandled_greenlet_exception_is_the_runtimes_flag():
    import locust.log

    assert locust.log.unhandled_greenlet_exception is False
    _runtime.unhandled_greenlet_exception = True
    assert locust.log.unhandled_greenlet_exception is True
    locust.log.unhandled_greenlet_exception = False
    assert _runtime.unhandled_greenlet_exception is False


@pytest.fixture
def single_user_env():
    """``run_single_user`` keeps one Environment and adds listeners to the process's events:
    give each test a clean start and take them off afterwards."""
    from stampede.compat import debug, events

    saved = {name: list(getattr(events, name)._handlers) for name in ("request", "init", "test_start")}
    saved_stats = _runtime._stats
    _runtime.set_stats(None)
    debug._env = None
    yield events
    debug._env = None
    _runtime._stats = saved_stats
    for name, handlers in saved.items():
        getattr(events, name)._handlers[:] = handlers


def test_run_single_user_in_process_counts_and_fires(server, single_user_env, capsys, monkeypatch):
    from locust import HttpUser, constant, run_single_user, task
    from locust.exception import StopUser

    events = single_user_env
    seen = []
    events.init.add_listener(lambda environment, **kw: seen.append(("init", environment)))
    events.test_start.add_listener(lambda environment, **kw: seen.append(("test_start", environment)))
    monkeypatch.setattr(sys, "argv", ["lf.py", "-H", server.url])

    class One(HttpUser):
        wait_time = constant(0)

        @task
        def t(self):
            self.client.get("/ok")
            self.client.get("/500")
            raise StopUser()

    run_single_user(One, loglevel=None)
    run_single_user(One, loglevel=None)
    from stampede.compat import debug

    env = debug._env
    assert [s[0] for s in seen] == ["init", "test_start", "test_start"] and all(s[1] is env for s in seen)
    assert env.host == server.url and One.host == server.url and env.locustfile == os.path.basename(__file__)
    assert isinstance(env.single_user_instance, One)
    stats = _runtime.stats()
    assert stats.get("/ok", "GET").num_requests == 2 and stats.get("/500", "GET").fail_ratio == 1.0
    out = capsys.readouterr().out
    assert out.count("type\tname") == 1 and out.count("\nGET\t/ok") == 2


def test_run_single_user_goes_to_the_engine_when_there_is_one(single_user_env, engine, monkeypatch):
    from locust import User, run_single_user, task

    monkeypatch.setattr(sys, "argv", ["lf.py"])

    class Quiet(User):
        @task
        def t(self):
            pass

    run_single_user(Quiet, loglevel=None)
    [(name, cls, env)] = [c for c in engine.calls if c[0] == "run_single_user"]
    assert cls is Quiet and env.user_classes == [Quiet]


def test_a_user_without_host_ends_the_single_run_as_in_locust(single_user_env, monkeypatch):
    from locust import HttpUser, run_single_user, task
    from locust.exception import StopTest

    monkeypatch.setattr(sys, "argv", ["lf.py"])

    class NoHost(HttpUser):
        @task
        def t(self):
            pass

    with pytest.raises(StopTest, match="You must specify the base host"):
        run_single_user(NoHost, loglevel=None)


def test_print_listener_header_is_printed_once_per_listener(capsys):
    from locust.debug import PrintListener
    from locust.env import Environment

    PrintListener(Environment(), include_time=True, include_payload=True)
    assert capsys.readouterr().out == "\ntime                    \ttype\t" + "name".ljust(50) + "\tresp_ms\texception\t\tpayload\t\n"

