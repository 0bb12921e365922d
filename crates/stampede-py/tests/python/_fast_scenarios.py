"""Scenarios for ``FastHttpSession`` (``locust.contrib.fasthttp``), run against both."""

from __future__ import annotations

import io

from _scenarios import fast_summary as S, raised


def _get(path, **kw):
    return lambda c: S(c.session.get(path, **kw))


def basics():
    return [
        ("ok", _get("/ok")),
        ("params", _get("/echo", params={"q": "x y", "l": [1, 2], "u": "\u00e9"})),
        ("params_on_query", _get("/echo?a=1", params={"b": "2"})),
        ("extra_kwargs_become_params", _get("/echo", foo="bar")),
        ("unquoted_path", _get("/api/a b?c=d e")),
        ("absolute_url", lambda c: S(c.session.get(c.base + "/ok?z=1"))),
        ("name_kwarg", _get("/404", name="named")),
        ("rename_request", _rename),
        ("lower_method", lambda c: S(c.session.request("get", "/echo"))),
        ("context", _get("/ok", context={"mine": 2})),
        ("base_path", lambda c: S(c.new_session(c.base + "/api").get("/x"))),
        ("head", lambda c: S(c.session.head("/ok"))),
        ("options", lambda c: S(c.session.options("/echo"))),
        ("delete", lambda c: S(c.session.delete("/echo"))),
        ("with_plain", _with_plain),
    ]


def _rename(c):
    with c.session.rename_request("grp"):
        a = c.session.get("/ok")
        b = c.session.get("/echo", name="explicit")
    return [a.status_code, b.status_code, c.session.request_name]


def _with_plain(c):
    with c.session.get("/ok") as r:
        return r.status_code


def statuses():
    paths = ("/404", "/500", "/custom", "/418", "/300", "/210", "/600", "/204", "/401", "/302noloc")
    return [(p.strip("/"), _get(p)) for p in paths] + [
        ("raise_for_status_plain", _raise_plain),
        ("gzip", _get("/gzip")),
        ("deflate", _get("/deflate")),
        ("latin", _get("/latin")),
        ("noctype", _get("/noctype")),
        ("json", _get("/json")),
        ("badjson", _get("/badjson")),
        ("empty", _get("/empty")),
        ("stream", _stream),
        ("iter_lines", lambda c: list(c.session.iter_lines("/ok"))),
        ("iter_after_read", lambda c: list(c.session.get("/ok").iter_content())),
        ("encoding_override", _encoding_override),
    ]


def _raise_plain(c):
    r = c.session.get("/404")
    return [raised(r.raise_for_status), raised(r.success), raised(lambda: r.failure("x"))]


def _encoding_override(c):
    r = c.session.get("/latin")
    r.encoding = "utf-8"
    return [r.text, r.encoding]


def _stream(c):
    r = c.session.get("/ok", stream=True)
    return ["".join(r.iter_content(16)), r.status_code]


def redirects():
    return [
        ("r302", _get("/r302")),
        ("r302_no_follow", _get("/r302", allow_redirects=False)),
        ("redir404", _get("/redir404")),
        ("post_r301", lambda c: S(c.session.post("/r301", data={"a": "1"}))),
        ("post_r302", lambda c: S(c.session.post("/r302", data="body"))),
        ("post_r303", lambda c: S(c.session.post("/r303", data={"a": "1"}))),
        ("post_r307", lambda c: S(c.session.post("/r307", data={"a": "1"}))),
        ("redir_abs", _get("/redir_abs")),
        ("redir_rel", _get("/redir_rel")),
        ("chain", _get("/chain")),
        ("loop", _get("/loop")),
        ("redir_setcookie", _get("/redir_setcookie")),
        ("redir_params", _get("/r302", params={"p": "1"})),
        ("history", lambda c: [[(h.status_code, h.headers["location"]) for h in c.session.get(p).history]
                               for p in ("/chain", "/redir404", "/ok")]),
        ("elapsed", lambda c: type(c.session.get("/ok").elapsed).__name__),
    ]


def bodies():
    return [
        ("data_dict", lambda c: S(c.session.post("/echo", data={"a": "1", "b": "x y"}))),
        ("data_str", lambda c: S(c.session.post("/echo", data="h\u00e9llo"))),
        ("data_str_ctype", lambda c: S(c.session.post("/echo", data="x", headers={"Content-Type": "text/x"}))),
        ("data_bytes", lambda c: S(c.session.post("/echo", data=b"\x00\x01raw"))),
        ("json_body", lambda c: S(c.session.post("/echo", json={"k": [1, "\u00e9"]}))),
        ("json_and_data", lambda c: S(c.session.post("/echo", data="d", json={"k": 1}))),
        ("json_put", lambda c: S(c.session.request("PUT", "/echo", json=[1], headers={"accept": "x/y"}))),
        ("files", lambda c: S(c.session.post("/echo", files={"f": ("n.txt", b"file body", "text/plain")}))),
        ("files_data", lambda c: S(c.session.post("/echo", data={"a": "1"}, files={"f": io.BytesIO(b"x")}))),
        ("post_none", lambda c: S(c.session.post("/echo"))),
        ("put_none", lambda c: S(c.session.put("/echo"))),
        ("patch", lambda c: S(c.session.patch("/echo", data="p"))),
    ]


def headers_and_auth():
    return [
        ("custom_header", _get("/echo", headers={"X-One": "1", "accept-encoding": "identity"})),
        ("auth_tuple", _get("/echo", auth=("us\u00e9r", "p:w"))),
        ("base_credentials", _base_credentials),
        ("base_credentials_override", _base_credentials_override),
        ("default_headers", lambda c: S(c.new_session(c.base, headers={"X-Def": "d"}).get("/echo"))),
    ]


def _base_credentials(c):
    host = c.base.replace("http://", "http://u%40x:p%3Aw@")
    s = c.new_session(host)
    return [s.base_url, S(s.get("/echo"))]


def _base_credentials_override(c):
    host = c.base.replace("http://", "http://u:p@")
    return S(c.new_session(host).get("/echo", auth=("other", "pw")))


def cookies():
    return [("setcookie", _setcookie)]


def _setcookie(c):
    r = S(c.session.get("/setcookie"))
    e = S(c.session.get("/echo"))
    jar = sorted((k.name, k.value, k.domain, k.path) for k in c.session.cookiejar)
    c.session.cookiejar.clear()
    after = S(c.session.get("/echo"))["echo"]["headers"].get("cookie")
    return [r, e, jar, after]


def catch_response():
    return [
        ("cr_success_404", _cr_success),
        ("cr_failure_200", _cr_failure),
        ("cr_default_404", _cr_default),
        ("cr_default_300", _cr_default_300),
        ("cr_value_error", _cr_value_error),
        ("cr_response_error", _cr_response_error),
        ("cr_raise_for_status", _cr_raise_for_status),
        ("cr_failure_then_rfs", _cr_failure_rfs),
        ("cr_success_outside", _cr_success_outside),
        ("cr_refused", _cr_refused),
        ("cr_success_then_error", _cr_success_then_error),
    ]


def _cr_success(c):
    with c.session.get("/404", catch_response=True) as r:
        r.success()
    return S(r)


def _cr_failure(c):
    with c.session.get("/ok", catch_response=True) as r:
        r.failure("bad body")
    return S(r)


def _cr_default(c):
    with c.session.get("/404", catch_response=True) as r:
        pass
    return S(r)


def _cr_default_300(c):
    with c.session.get("/300", catch_response=True, name="three") as r:
        pass
    return r.status_code


def _cr_value_error(c):
    with c.session.get("/ok", catch_response=True):
        raise ValueError("in block")


def _cr_response_error(c):
    with c.session.get("/ok", catch_response=True):
        raise c.classes["ResponseError"]("resp err")
    return "suppressed"


def _cr_raise_for_status(c):
    with c.session.get("/404", catch_response=True) as r:
        r.raise_for_status()


def _cr_failure_rfs(c):
    with c.session.get("/ok", catch_response=True) as r:
        r.failure("nope")
        return [raised(r.raise_for_status), r.ok]


def _cr_success_outside(c):
    r = c.session.get("/ok", catch_response=True)
    return [raised(r.success), raised(lambda: r.failure("x"))]


def _cr_refused(c):
    with c.new_session(c.refused).get("/x", catch_response=True) as r:
        return [S(r), raised(r.raise_for_status)]


def _cr_success_then_error(c):
    with c.session.get("/ok", catch_response=True) as r:
        r.success()
        raise ValueError("after success")


def errors():
    return [
        ("refused", lambda c: S(c.new_session(c.refused).get("/x"))),
        ("refused_post", lambda c: S(c.new_session(c.refused).post("/x", data="d", name="nm"))),
        ("closed", _get("/close")),
        ("reset", _get("/reset")),
        ("reset_post", lambda c: S(c.session.post("/reset", data="x"))),
        ("garbage", _get("/garbage")),
        ("timeout", lambda c: S(c.new_session(c.base, network_timeout=1.0).get("/slow"))),
        ("timeout_post", lambda c: S(c.new_session(c.base, network_timeout=1.0).post("/slow", data="x"))),
        ("dns", lambda c: S(c.new_session("http://nonexistent.invalid").get("/x"))),
        ("redir_refused", _get("/redir_refused")),
    ]


def rest():
    return [
        ("rest_json", _rest("GET", "/json")),
        ("rest_badjson", _rest("GET", "/badjson")),
        ("rest_404", _rest("GET", "/404")),
        ("rest_assert", _rest_assert),
        ("rest_post_json", _rest("POST", "/echo", json={"a": 1})),
        ("rest_refused", _rest_refused),
    ]


def _rest_user(c, session=None):
    class U(c.classes["RestMixin"]):
        client = session or c.session

    return U()


def _rest(method, path, **kw):
    def run(c):
        with _rest_user(c).rest(method, path, **kw) as r:
            return [r.js, r.status_code, r.text]

    return run


def _rest_assert(c):
    with _rest_user(c).rest("GET", "/json") as r:
        assert r.js["a"] == 2, "a was not 2,"
    return "done"


def _rest_refused(c):
    with _rest_user(c, c.new_session(c.refused)).rest("GET", "/x") as r:
        return [r.js, r.status_code]


def all_scenarios():
    return basics() + statuses() + redirects() + bodies() + headers_and_auth() + cookies() + catch_response() + errors() + rest()
