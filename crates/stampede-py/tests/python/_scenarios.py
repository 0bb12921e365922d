"""The calls the differential tests make, written once and run twice.

Each scenario is a function of a ``Ctx`` and returns a JSON-able summary. The same list runs
in a subprocess against real Locust 2.47 (``_locust_side.py``) and in the test process against
Stampede's compat layer; the tests then compare, scenario by scenario, the summaries, the
``request`` events fired (name, method, Locust's error key, length, URL, context) and anything
raised. This module imports neither ``locust`` nor ``stampede``: the ``Ctx`` carries the
classes of whichever side runs it.
"""

from __future__ import annotations

import base64
import json
import traceback


#: What FastHttpUser passes to its session (locust/contrib/fasthttp.py:440-455).
FAST_USER_KW = dict(network_timeout=60.0, connection_timeout=60.0, max_redirects=30, max_retries=0,
                    insecure=True, concurrency=10, client_pool=None, ssl_context_factory=None,
                    headers=None, proxy_host=None, proxy_port=None)


class DummyUser:
    """Stands in for the user a session belongs to: only ``context()`` is read by sessions."""

    def context(self):
        return {"from_user": 1}


class Ctx:
    """What a scenario may use: the session under test and a way to build more."""

    def __init__(self, session, new_session, base, refused, parse_error, classes):
        self.session = session
        self.new_session = new_session
        self.base = base
        self.refused = refused
        self.parse_error = parse_error
        self.classes = classes  # dict: LocustError, ResponseError, RestMixin, ...
        self.events = []

    def listener(self, **kw):
        """Appends a normalized copy of one ``request`` event."""
        exc = kw.get("exception")
        self.events.append(
            {
                "request_type": kw["request_type"],
                "name": kw["name"],
                "response_length": kw["response_length"],
                "url": kw.get("url"),
                "exception": self.parse_error(exc) if exc else None,
                "exc_type": type(exc).__name__ if exc else None,
                "context": kw.get("context"),
                "has_response": kw.get("response") is not None,
                "rt_ok": isinstance(kw.get("response_time"), float),
            }
        )


def run_all(ctx, scenarios, after=None):
    """Runs each scenario; returns {name: {"result", "raised", "events"[, "after"]}}."""
    out = {}
    assert len({n for n, _ in scenarios}) == len(scenarios), "scenario names must be unique"
    for name, fn in scenarios:
        ctx.events.clear()
        result, raised = None, None
        try:
            result = fn(ctx)
        except Exception as e:  # noqa: BLE001 - what escapes is part of the comparison
            raised = f"{type(e).__name__}: {ctx.parse_error(e)}"
            if name.startswith("debug"):
                traceback.print_exc()
        out[name] = {"result": result, "raised": raised, "events": list(ctx.events)}
        if after is not None:
            out[name]["after"] = after(ctx)
    return out


# --- summaries -------------------------------------------------------------------------------

_KEEP = {"content-type", "location", "set-cookie", "content-encoding", "www-authenticate"}


def echo_summary(text):
    """What the server received (the server has blanked any multipart boundary)."""
    data = json.loads(text)
    body = base64.b64decode(data["body"])
    headers = {k.lower(): v for k, v in data["headers"]}
    return {"method": data["method"], "target": data["target"], "headers": headers, "body": body.decode("latin-1")}


def _safe(fn):
    """fn() or, if it raises, "!" and the exception's type name (both sides must agree)."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return "!" + type(e).__name__


def _fields(r, spec):
    return {k: _safe(lambda f=f: f(r)) for k, f in spec.items()}


_HTTP = {
    "class": lambda r: type(r).__name__,
    "status": lambda r: r.status_code,
    "reason": lambda r: r.reason,
    "ok": lambda r: r.ok,
    "url": lambda r: r.url,
    "text": lambda r: r.text,
    "content": lambda r: None if r.content is None else r.content.decode("latin-1"),
    "encoding": lambda r: r.encoding,
    "history": lambda r: [(h.status_code, h.url, h.headers.get("location")) for h in r.history],
    "headers": lambda r: {k.lower(): v for k, v in r.headers.items() if k.lower() in _KEEP},
    "cookies": lambda r: sorted(r.cookies.get_dict().items()),
    "is_redirect": lambda r: r.is_redirect,
    "request": lambda r: None if r.request is None else [r.request.method, r.request.url, r.request.path_url],
    "repr": lambda r: repr(r),
    "bool": lambda r: bool(r),
    "json": lambda r: r.json(),
    "elapsed": lambda r: type(r.elapsed).__name__,
    "echo": lambda r: echo_summary(r.text) if r.text and r.text.startswith('{"method"') else None,
}

_FAST = {
    "status": lambda r: r.status_code,
    "ok": lambda r: r.ok,
    "url": lambda r: r.url,
    "text": lambda r: r.text,
    "content": lambda r: None if r.content is None else r.content.decode("latin-1"),
    "headers": lambda r: None if r.headers is None else {k: r.headers.get(k) for k in sorted(_KEEP) if k in r.headers},
    "ctype_index": lambda r: r.headers["Content-Type"],
    "error": lambda r: None if getattr(r, "error", None) is None else repr(r.error),
    "json": lambda r: r.json(),
    "echo": lambda r: echo_summary(r.text) if r.text and r.text.startswith('{"method"') else None,
    "request": lambda r: [r.request.method, r.request.url],
}


def http_summary(r):
    """The parts of a requests-style response a locustfile reads."""
    return _fields(r, _HTTP)


def fast_summary(r):
    """The parts of a FastResponse a locustfile reads."""
    return _fields(r, _FAST)


def raised(fn):
    """Calls fn; returns what it raised as "Type: parse_error" (or None)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e!r}"
    return None
