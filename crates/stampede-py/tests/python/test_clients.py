"""HttpSession (``locust.clients``) against real Locust 2.47, scenario by scenario.

Each scenario in ``_http_scenarios`` runs once under real Locust (in a subprocess) and once
under ``stampede.compat.clients`` over ``FakeTransport``, against the same loopback server;
the responses, the ``request`` events, anything raised, the cookie jar afterwards and what
the transport recorded for the statistics must all be equal.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

import _http_scenarios  # noqa: E402
from _differential import compare, locust_results, stampede_results  # noqa: E402
from _diffserver import DiffServer  # noqa: E402

SCENARIOS = _http_scenarios.all_scenarios()


@pytest.fixture(scope="module")
def both():
    from stampede.compat.clients import HttpSession

    server = DiffServer()
    locust = locust_results("http", server)

    def make(url, hook, user):
        return HttpSession(url, hook, user)

    def after(c):
        return sorted(c.session.cookies.get_dict().items())

    mine = stampede_results(SCENARIOS, make, after, server)
    yield locust, mine
    server.shutdown()


@pytest.mark.parametrize("name", [n for n, _ in SCENARIOS])
def test_same_as_locust(both, name):
    compare(name, *both)


# --- what has no Locust oracle: refusals, the engine seam, the cookie proxy -------------------

import http.cookiejar  # noqa: E402

import requests  # noqa: E402

from stampede import _fake_transport  # noqa: E402
from stampede._fake_transport import FakeTransport  # noqa: E402
from stampede._transport import Raw  # noqa: E402


class SpyTransport(FakeTransport):
    """Answers 200 without a network and keeps the arguments of each request."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def request(self, method, url, headers, body, **kw):
        self.calls.append((method, url, headers, body, kw))
        return Raw(status=200, reason="OK", url=url, headers=[("Content-Length", "2")], body=b"ok", elapsed=0.01,
                   history=[], error_kind=None, error=None, request_headers=headers, content_length=2, ticket=None)


class _User:
    def __init__(self, transport=None):
        if transport is not None:
            self._stampede_transport = transport

    def context(self):
        return {}


def _session(hook=None, transport=None, url="http://h"):
    from stampede.compat.clients import HttpSession
    from stampede.compat.event import Events

    return HttpSession(url, hook if hook is not None else Events().request, _User(transport or SpyTransport()))


@pytest.mark.parametrize("kwargs", [{"proxies": {"http": "p"}}, {"cert": "c.pem"}, {"hooks": {"response": [print]}},
                                    {"verify": "/ca.pem"}])
def test_unsupported_request_options_are_refused_by_name(kwargs):
    from stampede.compat.exception import LocustError

    with pytest.raises(LocustError, match=f"unsupported API: HttpSession {next(iter(kwargs))}"):
        _session().get("/", **kwargs)


def test_unsupported_session_settings_are_refused_by_name():
    from stampede.compat.clients import HttpSession
    from stampede.compat.exception import LocustError

    s = _session()
    s.proxies = {"https": "http://proxy"}
    with pytest.raises(LocustError, match="unsupported API"):
        s.get("/")
    with pytest.raises(LocustError, match="mount"):
        s.mount("http://", object())
    assert isinstance(s, requests.Session)  # as Locust's HttpSession is
    prep = s.prepare_request(requests.Request("GET", "http://h/x", params={"a": "1"}))
    assert prep.url == "http://h/x?a=1"
    with pytest.raises(LocustError, match="send"):
        s.send(prep)
    with pytest.raises(LocustError, match="pool_manager"):
        HttpSession("http://h", None, None, pool_manager=object())
    with pytest.raises(LocustError, match="HTTPDigestAuth"):
        _session().get("/", auth=requests.auth.HTTPDigestAuth("u", "p"))
    with pytest.raises(TypeError, match="bogus"):
        _session().get("/", bogus=1)


def test_header_setting_auth_objects_work():
    class Token(requests.auth.AuthBase):
        def __call__(self, r):
            r.headers["Authorization"] = "Bearer t"
            return r

    t = SpyTransport()
    _session(transport=t).get("/", auth=Token())
    assert ("Authorization", "Bearer t") in t.calls[0][2]


def test_what_the_transport_is_asked():
    t = SpyTransport()
    s = _session(transport=t)
    s.get("/a b", timeout=(3, 7), verify=False, name="n")
    s.post("/p", data=b"x", allow_redirects=False)
    s.delete("/d")
    s.get("/q", params={"k": "v"})
    (m1, u1, h1, b1, k1), (m2, _, h2, b2, k2), (_, _, _, b3, _), (_, u4, _, b4, k4) = t.calls
    assert (m1, u1, b1) == ("GET", "http://h/a%20b", None)
    assert k1 == dict(allow_redirects=True, max_redirects=30, timeout=7, connect_timeout=3, insecure=True, name="n", auto=1)
    assert not {k.lower() for k, _ in h1} & {"host", "content-length", "cookie"}
    assert (m2, b2, k2["allow_redirects"], k2["insecure"], k2["name"]) == ("POST", b"x", False, False, "/p")
    assert b3 == b""  # requests sends Content-Length: 0 on a DELETE without body
    assert (u4, b4, k4["name"], k4["timeout"]) == ("http://h/q?k=v", None, "/q?k=v", None)


def test_first_session_of_a_user_uses_its_transport_later_ones_their_own():
    from stampede.compat.clients import HttpSession
    from stampede.compat.event import Events

    t = FakeTransport()
    user = _User(t)
    first = HttpSession("http://h", Events().request, user)
    second = HttpSession("http://h", Events().request, user)
    assert first._transport is t
    assert isinstance(second._transport, FakeTransport) and second._transport is not t


def test_the_stats_hook_counts_once_and_a_plain_hook_not_at_all():
    from stampede import _runtime
    from stampede.compat.event import EventHook, Events

    _fake_transport.recorded.clear()
    seen = []
    plain = EventHook()
    plain.add_listener(lambda **kw: seen.append(kw["name"]))
    _session(hook=plain).get("/plain")
    assert seen == ["/plain"] and _fake_transport.recorded == []

    stats = Events().request  # no listener: the fast path, nothing but the record
    _session(hook=stats).get("/counted")
    assert [(r["method"], r["name"], r["error"]) for r in _fake_transport.recorded] == [("GET", "/counted", None)]
    assert _runtime.fake_events == []


def test_a_raising_listener_is_logged_and_the_request_still_counted(caplog):
    from stampede import _runtime
    from stampede.compat.event import Events

    _fake_transport.recorded.clear()
    hook = Events().request

    def bad(**kw):
        raise RuntimeError("listener bug")

    hook.add_listener(bad)
    r = _session(hook=hook).get("/x")
    assert r.status_code == 200 and len(_fake_transport.recorded) == 1
    assert "listener bug" in caplog.text and _runtime.unhandled_greenlet_exception


def test_the_cookie_jar_is_the_transports():
    t = FakeTransport()
    s = _session(transport=t)
    jar = s.cookies
    assert isinstance(jar, http.cookiejar.CookieJar) and isinstance(jar, requests.cookies.RequestsCookieJar)
    jar.set("a", "1")
    jar.set("b", "2", domain="example.com", path="/x")
    assert sorted(t.cookies()) == [("a", "1", "", "/"), ("b", "2", "example.com", "/x")]
    assert requests.utils.dict_from_cookiejar(jar) == {"a": "1", "b": "2"}
    snap = jar.copy()
    jar.clear("example.com")
    assert snap.get_dict() == {"a": "1", "b": "2"} and jar.get_dict() == {"a": "1"}
    s.cookies = {"z": "9"}
    assert t.cookies() == [("z", "9", "", "/")]
    real = requests.cookies.RequestsCookieJar()
    for value in ('"quoted"', '"in\\"side"'):
        jar.set("q", value)
        real.set("q", value)
        assert jar["q"] == real["q"]
    with pytest.raises(KeyError):
        jar.clear("nowhere.example")


def test_http_user_client_runs_in_a_user_and_counts_on_the_users_transport():
    import gevent.pool

    from stampede.compat.env import Environment
    from stampede.compat.exception import StopUser
    from stampede.compat.user.task import task
    from stampede.compat.user.users import HttpUser
    from stampede.compat.user.wait_time import constant

    server = DiffServer()
    _fake_transport.recorded.clear()

    class U(HttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def t(self):
            self.client.get("/ok")
            self.client.get("/custom")
            raise StopUser()

    u = U(Environment())
    g = u.start(gevent.pool.Group())
    g.join(10)
    server.shutdown()
    got = [(r["name"], r["error"], r["transport"] is u.client._transport) for r in _fake_transport.recorded]
    assert got == [("/ok", None, True), ("/custom", "HTTPError('404 Client Error: Nope Here for url: /custom')", True)]


def test_the_engine_records_only_plain_successes_itself():
    """``auto=1`` lets the engine record a success by requests' rule; a ``catch_response``
    block or a stream leaves every verdict to the session."""
    t = SpyTransport()
    s = _session(transport=t)
    s.get("/plain")
    with s.get("/judged", catch_response=True) as r:
        r.success()
    s.get("/streamed", stream=True)
    assert [k["auto"] for (*_, k) in t.calls] == [1, 0, 0]
