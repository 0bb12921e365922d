"""FastHttpSession (``locust.contrib.fasthttp``) against real Locust 2.47, scenario by scenario.

Each scenario in ``_fast_scenarios`` runs once under real Locust (in a subprocess, with the
settings ``FastHttpUser`` gives its session) and once under
``stampede.compat.contrib.fasthttp`` over ``FakeTransport``, against the same loopback
server; responses, ``request`` events, anything raised, the cookie jar afterwards and what
the transport recorded must all be equal.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

import _fast_scenarios  # noqa: E402
from _differential import compare, locust_results, stampede_results  # noqa: E402
from _diffserver import DiffServer  # noqa: E402
from _scenarios import FAST_USER_KW  # noqa: E402

SCENARIOS = _fast_scenarios.all_scenarios()


@pytest.fixture(scope="module")
def both():
    from stampede.compat.contrib.fasthttp import FastHttpSession

    server = DiffServer()
    locust = locust_results("fast", server)

    def make(url, hook, user, **kw):
        return FastHttpSession(url, hook, user, **{**FAST_USER_KW, **kw})

    def after(c):
        return sorted((k.name, k.value) for k in c.session.cookiejar)

    mine = stampede_results(SCENARIOS, make, after, server)
    yield locust, mine
    server.shutdown()


@pytest.mark.parametrize("name", [n for n, _ in SCENARIOS])
def test_same_as_locust(both, name):
    compare(name, *both)


# --- what has no session-level oracle: FastHttpUser, refusals, the encoders, the seam ---------

import ast  # noqa: E402
import io  # noqa: E402
import random  # noqa: E402
import string  # noqa: E402

from stampede import _fake_transport  # noqa: E402
from stampede._fake_transport import FakeTransport  # noqa: E402
from stampede._transport import Raw  # noqa: E402

LOCUST_FASTHTTP = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "target", "locust-venv", "lib",
    "python3.11", "site-packages", "locust", "contrib", "fasthttp.py"))


class SpyTransport(FakeTransport):
    """Answers with a canned status without a network and keeps each request's arguments."""

    def __init__(self, status=200):
        super().__init__()
        self.status = status
        self.calls = []

    def request(self, method, url, headers, body, **kw):
        self.calls.append((method, url, headers, body, kw))
        return Raw(status=self.status, reason="X", url=url, headers=[("Location", "/x")], body=b"ok", elapsed=0.01,
                   history=[], error_kind=None, error=None, request_headers=headers, content_length=2, ticket=None)


class _User:
    def __init__(self, transport):
        self._stampede_transport = transport

    def context(self):
        return {}


def _session(transport=None, hook=None, **kw):
    from stampede.compat.contrib.fasthttp import FastHttpSession
    from stampede.compat.event import Events

    return FastHttpSession("http://h", hook if hook is not None else Events().request,
                           _User(transport or SpyTransport()), **{**FAST_USER_KW, **kw})


def test_fasthttpuser_settings_are_locusts():
    """The class attributes, read from Locust 2.47's own source (not imported)."""
    from stampede.compat.contrib.fasthttp import FastHttpUser

    tree = ast.parse(open(LOCUST_FASTHTTP).read())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FastHttpUser")
    attrs = {}
    for node in cls.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if target is not None and node.value is not None:
            attrs[target.id] = ast.literal_eval(node.value)
    assert len(attrs) >= 12
    for name, value in attrs.items():
        assert getattr(FastHttpUser, name) == value, name


def test_fasthttpuser_builds_its_session_like_locust():
    from stampede.compat.contrib.fasthttp import FastHttpSession, FastHttpUser
    from stampede.compat.env import Environment
    from stampede.compat.exception import LocustError, StopTest

    class U(FastHttpUser):
        host = "http://u:p@h"
        max_redirects = 7
        network_timeout = 2.5
        default_headers = {"X-D": "1"}

    u = U(Environment())
    assert isinstance(u.client, FastHttpSession) and u.client.base_url == "http://h"
    assert (u.client.client.max_redirects, u.client.client.max_retries, u.client.client.network_timeout) == (7, 0, 2.5)
    assert u.client.client.default_headers["x-d"] == "1" and u.client.auth_header == "Basic dTpw"
    assert u.client.request_event is u.environment.events.request

    class NoHost(FastHttpUser):
        pass

    with pytest.raises(StopTest):
        NoHost(Environment())

    class Pooled(FastHttpUser):
        host = "http://h"
        client_pool = object()

    with pytest.raises(LocustError, match="client_pool"):
        Pooled(Environment())


@pytest.mark.parametrize("kw", [{"proxy_host": "p", "proxy_port": 1}, {"ssl_context_factory": object}])
def test_unsupported_session_options_are_refused_by_name(kw):
    from stampede.compat.exception import LocustError

    with pytest.raises(LocustError, match="unsupported API: FastHttpSession"):
        _session(**kw)


def test_unknown_options_fail_and_urlopen_options_are_refused():
    from stampede.compat.exception import LocustError

    with pytest.raises(TypeError, match="bogus"):
        _session(bogus=1)
    with pytest.raises(LocustError, match="to_string"):
        _session().get("/", to_string=True)


def test_what_the_transport_is_asked():
    t = SpyTransport()
    s = _session(t, network_timeout=3.0, connection_timeout=4.0, insecure=False, max_redirects=5)
    s.get("/a b", params={"k": "v w"}, name="n")
    s.post("/p")
    s.get("/r", max_redirects=0)
    s.get("/r", allow_redirects=False)
    (m1, u1, h1, b1, k1), (m2, _, _, b2, k2), (_, _, _, _, k3), (_, _, _, _, k4) = t.calls
    assert (m1, u1, b1) == ("GET", "http://h/a%20b?k=v+w", None)
    assert k1 == dict(allow_redirects=True, max_redirects=5, timeout=3.0, connect_timeout=4.0, insecure=False, name="n", auto=2)
    assert dict(h1) == {"User-Agent": _fast_support().USER_AGENT, "Accept-Encoding": "gzip, deflate, br"}
    assert (m2, b2, k2["name"]) == ("POST", b"", "/p")  # geventhttpclient sends Content-Length: 0
    assert (k3["allow_redirects"], k3["max_redirects"]) == (False, 0)
    assert k4["allow_redirects"] is False


def _fast_support():
    from stampede.compat.contrib import _fast_support

    return _fast_support


def test_fast_path_records_without_listeners_and_plain_hooks_only_fire():
    from stampede.compat.event import EventHook

    _fake_transport.recorded.clear()
    t = SpyTransport(status=300)
    r = _session(t).get("/three")
    assert r.status_code == 300 and repr(r.error) == "LocustBadStatusCode(code=300)"
    assert [(x["name"], x["error"], x["response_length"]) for x in _fake_transport.recorded] == [
        ("/three", "LocustBadStatusCode(code=300)", 2)]
    seen = []
    plain = EventHook()
    plain.add_listener(lambda **kw: seen.append((kw["name"], repr(kw["exception"]))))
    _fake_transport.recorded.clear()
    _session(t, hook=plain).get("/plain")
    assert seen == [("/plain", "LocustBadStatusCode(code=300)")] and _fake_transport.recorded == []


def test_errors_are_geventhttpclients_own_classes_when_installed():
    from geventhttpclient.response import HTTPConnectionClosed
    from geventhttpclient.useragent import ConnectionError as GhcConnectionError

    from stampede.compat.contrib import fasthttp

    assert fasthttp.HTTPConnectionClosed is HTTPConnectionClosed
    assert issubclass(fasthttp.LocustBadStatusCode, GhcConnectionError)
    assert GhcConnectionError in fasthttp.FAILURE_EXCEPTIONS


def test_headers_behave_like_geventhttpclients():
    from geventhttpclient.header import Headers

    from stampede.compat.contrib._fast_support import FastHeaders

    pairs = [("Set-Cookie", "a=1"), ("Content-Type", "text/x"), ("set-cookie", "b=2"), ("X-One", "1")]
    theirs, mine = Headers(pairs), FastHeaders(pairs)
    for f in ("set-cookie", "SET-COOKIE", "content-type", "x-one"):
        assert mine[f] == theirs[f] and mine.get(f) == theirs.get(f) and mine.getlist(f) == theirs.getlist(f)
    assert ("CONTENT-TYPE" in mine, "nope" in mine, mine.get("nope", "d")) == ("CONTENT-TYPE" in theirs, False, "d")
    assert list(mine.items()) == list(theirs.items()) and len(mine) == len(theirs)
    assert mine.compatible_dict() == theirs.compatible_dict() and repr(mine) == repr(theirs)
    c = mine.copy()
    c["content-type"] = "y"
    assert mine["Content-Type"] == "text/x" and c["Content-Type"] == "y"


def test_request_urls_are_geventhttpclients():
    """``request_url`` (with its fast path) against geventhttpclient's ``URL(...).quoted_uri``."""
    from geventhttpclient.url import URL

    from stampede.compat.contrib._fast_support import request_url

    rnd = random.Random(7)
    chars = string.ascii_letters[:5] + string.digits[:3] + "-._~/:@!$&'()*+,=?#;% \u00e9"
    for _ in range(20000):
        url = rnd.choice(["http://h:1", "https://a.b", "http://u:p@h"]) + "".join(
            rnd.choice(chars) for _ in range(rnd.randint(0, 12)))
        params = rnd.choice([None, None, {"k": "v w"}, [("a", "1"), ("a", "\u00e9")], "raw=1"])
        u = URL(url, params=params)
        assert request_url(url, params) == f"{u.scheme}://{u.netloc}{u.quoted_uri}", (url, params)


def test_multipart_is_geventhttpclients():
    from geventhttpclient.useragent import _encode_multipart_formdata

    from stampede.compat.contrib._fast_support import encode_multipart

    cases = [  # functions, since a file object is read once
        lambda: ({"f": ("n.txt", b"body", "text/plain", {"X-H": "1"}, "bnd")}, {"a": ["1", "2"], "b": None}),
        lambda: ([("f", ("n", "str", None, None, "bnd")), ("g", ("m", io.BytesIO(b"io"), "a/b", None, "bnd"))], [("x", b"y")]),
    ]
    for case in cases:
        assert encode_multipart(*case()) == _encode_multipart_formdata(*case())


def test_fasthttpuser_in_a_user_loop_counts_on_the_users_transport():
    import gevent.pool

    from stampede.compat.contrib.fasthttp import FastHttpUser
    from stampede.compat.env import Environment
    from stampede.compat.exception import StopUser
    from stampede.compat.user.task import task
    from stampede.compat.user.wait_time import constant

    server = DiffServer()
    _fake_transport.recorded.clear()

    class U(FastHttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def t(self):
            self.client.get("/ok")
            with self.rest("GET", "/badjson") as r:
                assert r.js is None
            raise StopUser()

    u = U(Environment())
    u.start(gevent.pool.Group()).join(10)
    server.shutdown()
    got = [(r["name"], r["error"], r["transport"] is u.client._transport) for r in _fake_transport.recorded]
    assert got == [("/ok", None, True), ("/badjson", "CatchResponseError('Could not parse response as JSON. not json at all, "
                                                     "response code 200, error Expecting value: line 1 column 1 (char 0)')", True)]


def test_unprovided_names_fail_by_name_on_import():
    from stampede.compat.exception import LocustError

    with pytest.raises(LocustError, match="LocustUserAgent"):
        from stampede.compat.contrib.fasthttp import LocustUserAgent  # noqa: F401
    with pytest.raises(LocustError, match="LocustHttpAdapter"):
        from stampede.compat.clients import LocustHttpAdapter  # noqa: F401
    with pytest.raises(ImportError):
        from stampede.compat.clients import NoSuchName  # noqa: F401


_REPRS = """
import socket, sys
sys.path.insert(0, {src!r})
if {block}:
    sys.modules["geventhttpclient"] = None  # as if not installed: the front's own copies
from stampede.compat.contrib import fasthttp as f
print([repr(f.RetriesExceeded("http://h/x", 0, original=socket.timeout("timed out"))),
       str(f.RetriesExceeded("http://h/x", "Redirection limit reached (30)")),
       repr(f.LocustBadStatusCode("http://h/x", code=404)), str(f.LocustBadStatusCode("http://h/x", code=404)),
       repr(f.HTTPConnectionClosed("connection closed.")), repr(f.HTTPParseError("Expected HTTP/, RTSP/ or ICE/", 8)),
       repr(f.ConnectionError("http://h", "text")), f.USER_AGENT, f.HTTPParseError.__mro__[1].__name__])
"""


def test_the_copies_of_geventhttpclients_classes_match_the_originals():
    import subprocess

    src = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    out = [subprocess.run([sys.executable, "-c", _REPRS.format(src=src, block=b)], capture_output=True, text=True,
                          check=True).stdout for b in (False, True)]
    assert out[0] == out[1] and "LocustBadStatusCode(code=404)" in out[0]


def test_the_engine_records_only_plain_successes_itself():
    """``auto=2`` lets the engine record a success by geventhttpclient's default codes; a
    ``catch_response`` block or a stream leaves every verdict to the session."""
    t = SpyTransport()
    s = _session(t)
    s.get("/plain")
    with s.get("/judged", catch_response=True) as r:
        r.success()
    s.get("/streamed", stream=True)
    assert [k["auto"] for (*_, k) in t.calls] == [2, 0, 0]
