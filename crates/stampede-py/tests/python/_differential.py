"""Shared plumbing of the differential tests: run the scenarios under real Locust (subprocess)
and under Stampede's compat layer over ``FakeTransport``, then compare one scenario."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_SRC = os.path.normpath(os.path.join(HERE, "..", "..", "python"))
for p in (PYTHON_SRC, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

from _scenarios import Ctx, DummyUser, run_all  # noqa: E402

_TIMESTAMP = re.compile(r"_=\d+")


def locust_results(flavour, server):
    """The scenarios' results under real Locust 2.47, run in a subprocess."""
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "_locust_side.py"), flavour, server.url, server.refused_url],
        capture_output=True, text=True, cwd=HERE, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


class StampedeUser(DummyUser):
    """The dummy user, with the transport the engine would give it."""

    def __init__(self):
        from stampede._fake_transport import FakeTransport

        self._stampede_transport = FakeTransport()


def stampede_results(scenarios, make_session, after, server):
    """The scenarios' results under Stampede, plus what each one recorded in the transport."""
    from stampede import _fake_transport, _runtime
    from stampede.compat.event import Events
    from stampede.compat.exception import LocustError, ResponseError
    from stampede.compat.stats import parse_error
    from stampede.compat.user.users import RestMixin

    hook = Events().request
    user = StampedeUser()
    classes = {"LocustError": LocustError, "ResponseError": ResponseError, "RestMixin": RestMixin}
    ctx = Ctx(make_session(server.url, hook, user), lambda url, **kw: make_session(url, hook, user, **kw),
              server.url, server.refused_url, parse_error, classes)
    hook.add_listener(ctx.listener)
    recorded = {}

    def after_each(c):
        recorded[len(recorded)] = [
            (r["method"], r["name"], r["error"], r["response_length"], r["kind"]) for r in _fake_transport.recorded
        ]
        _fake_transport.recorded.clear()
        return after(c)

    _fake_transport.recorded.clear()
    _runtime.fake_events.clear()
    results = run_all(ctx, scenarios, after_each)
    for i, name in enumerate(results):
        results[name]["recorded"] = recorded[i]
    assert _runtime.fake_events == [], "a session request was counted twice (through events.request.fire)"
    real = getattr(sys.modules.get("locust"), "__file__", "") or ""
    assert "site-packages" not in real, "real Locust must stay out of the test process"
    return results


def normalize(value):
    """Blanks what legitimately differs between two runs (rest_'s millisecond timestamp)."""
    return json.loads(_TIMESTAMP.sub("_=T", json.dumps(value)))


def compare(name, locust, stampede):
    """Asserts one scenario matched, field by field, with a readable message."""
    want, got = normalize(locust[name]), normalize(stampede[name])
    for key in ("raised", "events", "result", "after"):
        assert got[key] == want[key], f"{name}: {key} differs\n locust:   {want[key]!r}\n stampede: {got[key]!r}"
    expected = [[e["request_type"], e["name"], e["exception"], e["response_length"]] for e in want["events"]]
    assert [r[:4] for r in got["recorded"]] == expected, f"{name}: the transport recorded {got['recorded']!r}"
