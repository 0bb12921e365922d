"""Runs the scenarios against real Locust 2.47 and prints the results as JSON.

Run as a subprocess (``python _locust_side.py http|fast BASE REFUSED``) so that real ``locust``
(and its gevent monkey-patching) never enters the test process.
"""

from __future__ import annotations

import json
import os
import sys

import locust  # noqa: F401  (monkey-patches, as in a real run)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from locust.clients import HttpSession  # noqa: E402
from locust.contrib.fasthttp import FastHttpSession  # noqa: E402
from locust.event import EventHook  # noqa: E402
from locust.exception import LocustError, ResponseError  # noqa: E402
from locust.stats import StatsError  # noqa: E402
from locust.user.users import RestMixin  # noqa: E402

import _fast_scenarios  # noqa: E402
import _http_scenarios  # noqa: E402
from _scenarios import FAST_USER_KW, Ctx, DummyUser, run_all  # noqa: E402

def main():
    flavour, base, refused = sys.argv[1:4]
    hook = EventHook()
    user = DummyUser()
    if flavour == "http":
        def make(url):
            return HttpSession(url, hook, user)
        scenarios = _http_scenarios.all_scenarios()

        def after(c):
            return sorted(c.session.cookies.get_dict().items())
    else:
        def make(url, **kw):
            return FastHttpSession(url, hook, user, **{**FAST_USER_KW, **kw})
        scenarios = _fast_scenarios.all_scenarios()

        def after(c):
            return sorted((k.name, k.value) for k in c.session.cookiejar)

    classes = {"LocustError": LocustError, "ResponseError": ResponseError, "RestMixin": RestMixin}
    ctx = Ctx(make(base), make, base, refused, StatsError.parse_error, classes)
    hook.add_listener(ctx.listener)
    json.dump(run_all(ctx, scenarios, after), sys.stdout)


if __name__ == "__main__":
    main()
