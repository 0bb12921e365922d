"""Scenarios for ``HttpSession`` (``locust.clients``), run against both implementations."""

from __future__ import annotations

import io

from _scenarios import http_summary as S, raised


def _get(path, **kw):
    return lambda c: S(c.session.get(path, **kw))


def _req(method, path, **kw):
    return lambda c: S(c.session.request(method, path, **kw))


def names_and_params():
    return [
        ("ok", _get("/ok")),
        ("params", _get("/echo", params={"q": "x y", "l": [1, 2], "u": "\u00e9", "n": None})),
        ("params_on_query", _get("/echo?a=1", params={"b": "2"})),
        ("params_str", _get("/echo", params="raw=1&x=y")),
        ("params_pairs", _get("/echo", params=[("k", "1"), ("k", "2")])),
        ("unquoted_path", _get("/api/a b?c=d e")),
        ("quoted_path", _get("/api/a%20b/%7Euser")),
        ("absolute_url", lambda c: S(c.session.get(c.base + "/ok?z=1"))),
        ("name_kwarg", _get("/404", name="named")),
        ("rename_request", _rename),
        ("request_name_attr", _request_name_attr),
        ("lower_method", _req("get", "/echo")),
        ("context", _get("/ok", context={"mine": 2})),
        ("base_path", lambda c: S(c.new_session(c.base + "/api").get("/x"))),
        ("base_slash", lambda c: S(c.new_session(c.base + "/").get("/echo"))),
        ("no_scheme", lambda c: S(c.new_session(None).get("/x"))),
        ("invalid_header", _get("/ok", headers={"X-Bad": " leading space"})),
    ]


def _rename(c):
    with c.session.rename_request("grp"):
        a = c.session.get("/ok")
        b = c.session.get("/echo", name="explicit")
    return [S(a)["status"], S(b)["status"], c.session.request_name]


def _request_name_attr(c):
    c.session.request_name = "attr"
    try:
        return S(c.session.get("/ok"))
    finally:
        c.session.request_name = None


def statuses():
    return [(p.strip("/"), _get(p)) for p in ("/404", "/500", "/custom", "/418", "/300", "/210", "/600", "/204", "/401")] + [
        ("head_ok", lambda c: S(c.session.head("/ok"))),
        ("raise_for_status_plain", _raise_plain),
        ("gzip", _get("/gzip")),
        ("deflate", _get("/deflate")),
        ("latin", _get("/latin")),
        ("noctype", _get("/noctype")),
        ("json", _get("/json")),
        ("badjson", _get("/badjson")),
        ("empty", _get("/empty")),
        ("stream", _get("/ok", stream=True)),
        ("encoding_override", _encoding_override),
        ("iter_content", lambda c: [[b.decode() for b in c.session.get("/ok").iter_content(2)],
                                    [b.decode() for b in c.session.get("/gzip").iter_lines()][:1]]),
        ("verify_false", _get("/ok", verify=False)),
    ]


def _encoding_override(c):
    r = c.session.get("/latin")
    first = r.text
    r.encoding = "utf-8"
    return [first, r.text, r.apparent_encoding, r.links, r.is_permanent_redirect]


def _raise_plain(c):
    r = c.session.get("/404")
    return [raised(r.raise_for_status), raised(lambda: r.success()), r.url]


def redirects():
    return [
        ("r302", _get("/r302")),
        ("r302_no_follow", _get("/r302", allow_redirects=False)),
        ("head_r302", lambda c: S(c.session.head("/r302"))),
        ("head_r302_follow", lambda c: S(c.session.head("/r302", allow_redirects=True))),
        ("redir404", _get("/redir404")),
        ("post_r301", lambda c: S(c.session.post("/r301", data={"a": "1"}))),
        ("post_r302", lambda c: S(c.session.post("/r302", data="body"))),
        ("post_r303", lambda c: S(c.session.post("/r303", data={"a": "1"}))),
        ("post_r307", lambda c: S(c.session.post("/r307", data={"a": "1"}))),
        ("put_r308", lambda c: S(c.session.put("/r308", data=b"raw"))),
        ("redir_abs", _get("/redir_abs")),
        ("redir_rel", _get("/redir_rel")),
        ("302noloc", _get("/302noloc")),
        ("chain", _get("/chain")),
        ("loop", _get("/loop")),
        ("redir_refused", _get("/redir_refused")),
        ("redir_setcookie", _get("/redir_setcookie")),
        ("redir_params", _get("/r302", params={"p": "1"})),
    ]


def bodies():
    return [
        ("data_dict", lambda c: S(c.session.post("/echo", data={"a": "1", "b": ["x", "y z"]}))),
        ("data_pairs", lambda c: S(c.session.post("/echo", data=[("a", "1"), ("a", "2")]))),
        ("data_str", lambda c: S(c.session.post("/echo", data="h\u00e9llo"))),
        ("data_bytes", lambda c: S(c.session.post("/echo", data=b"\x00\x01raw"))),
        ("data_file", lambda c: S(c.session.post("/echo", data=io.BytesIO(b"from a file")))),
        ("json_body", lambda c: S(c.session.post("/echo", json={"k": [1, "\u00e9"]}))),
        ("json_and_data", lambda c: S(c.session.post("/echo", data="d", json={"k": 1}))),
        ("json_ctype", lambda c: S(c.session.put("/echo", json=[1], headers={"Content-Type": "application/x"}))),
        ("files", lambda c: S(c.session.post("/echo", files={"f": ("n.txt", b"file body", "text/plain")}))),
        ("files_data", lambda c: S(c.session.post("/echo", data={"a": "1"}, files={"f": io.BytesIO(b"x")}))),
        ("post_none", lambda c: S(c.session.post("/echo"))),
        ("delete", lambda c: S(c.session.delete("/echo"))),
        ("options", lambda c: S(c.session.options("/echo"))),
        ("patch", lambda c: S(c.session.patch("/echo", data="p"))),
        ("get_with_body", lambda c: S(c.session.get("/echo", data="g"))),
    ]


def headers_and_auth():
    return [
        ("custom_header", _get("/echo", headers={"X-One": "1", "user-agent": "mine"})),
        ("remove_default", _get("/echo", headers={"Accept": None})),
        ("session_header", _session_header),
        ("auth_tuple", _get("/echo", auth=("us\u00e9r", "p:w"))),
        ("base_credentials", _base_credentials),
        ("base_credentials_override", _base_credentials_override),
        ("timeout_tuple", _get("/ok", timeout=(5, 5))),
    ]


def _session_header(c):
    c.session.headers["X-Sess"] = "s"
    c.session.headers.update({"Accept": "text/html"})
    try:
        return S(c.session.get("/echo"))
    finally:
        del c.session.headers["X-Sess"]
        c.session.headers["Accept"] = "*/*"


def _base_credentials(c):
    host = c.base.replace("http://", "http://u%40x:p%3Aw@")
    s = c.new_session(host)
    return [s.base_url, S(s.get("/echo"))]


def _base_credentials_override(c):
    host = c.base.replace("http://", "http://u:p@")
    return S(c.new_session(host).get("/echo", auth=("other", "pw")))


def cookies():
    return [
        ("setcookie", _setcookie),
        ("request_cookies", lambda c: [S(c.session.get("/echo", cookies={"rq": "1"})), c.session.cookies.get_dict()]),
        ("cookies_api", _cookies_api),
        ("cookie_delete_by_server", _cookie_delete),
    ]


def _setcookie(c):
    r = S(c.session.get("/setcookie"))
    e = S(c.session.get("/echo"))
    jar = c.session.cookies
    return [r, e, jar.get_dict(), "a" in jar, jar.get("a"), jar["b"], sorted(jar.keys()), sorted(jar.values()),
            sorted((k.name, k.value, k.domain, k.path) for k in jar), len(jar)]


def _cookies_api(c):
    jar = c.session.cookies
    jar.clear()
    jar.set("c", "3")
    jar["d"] = "4"
    jar.update({"e": "5"})
    e1 = S(c.session.get("/echo"))["echo"]["headers"].get("cookie")
    del jar["d"]
    jar.set("c", None)
    out = [e1, jar.get_dict(), jar.get("missing", "dflt"), raised(lambda: jar["missing"]), sorted(jar.items())]
    jar.clear()
    out.append(S(c.session.get("/echo"))["echo"]["headers"].get("cookie"))
    return out


def _cookie_delete(c):
    c.session.get("/setcookie")
    c.session.get("/delcookie")
    d = c.session.cookies.get_dict()
    c.session.cookies.clear()
    return d


def catch_response():
    return [
        ("cr_success_404", _cr_success),
        ("cr_failure_200", _cr_failure),
        ("cr_failure_exc", _cr_failure_exc),
        ("cr_default_404", _cr_default),
        ("cr_default_named", _cr_default_named),
        ("cr_value_error", _cr_value_error),
        ("cr_response_error", _cr_response_error),
        ("cr_raise_for_status", _cr_raise_for_status),
        ("cr_success_then_rfs", _cr_success_rfs),
        ("cr_failure_then_rfs", _cr_failure_rfs),
        ("cr_no_catch_with", _cr_no_catch_with),
        ("cr_success_outside", _cr_success_outside),
        ("cr_failure_outside", _cr_failure_outside),
        ("cr_refused_rfs", _cr_refused_rfs),
        ("cr_error_fields", _cr_error_fields),
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


def _cr_failure_exc(c):
    with c.session.post("/echo", catch_response=True, name="ex") as r:
        r.failure(KeyError("k"))
    return r.status_code


def _cr_default(c):
    with c.session.get("/404", catch_response=True) as r:
        pass
    return S(r)


def _cr_default_named(c):
    with c.session.get("/custom", catch_response=True, name="nm") as r:
        pass
    return r.url


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


def _cr_success_rfs(c):
    with c.session.get("/404", catch_response=True) as r:
        r.success()
        r.raise_for_status()
    return r.ok


def _cr_failure_rfs(c):
    with c.session.get("/ok", catch_response=True) as r:
        r.failure("nope")
        return [raised(r.raise_for_status), r.ok]


def _cr_no_catch_with(c):
    with c.session.get("/ok") as r:
        return r.status_code


def _cr_success_outside(c):
    r = c.session.get("/ok", catch_response=True)
    return [raised(r.success), raised(lambda: r.failure("x"))]


def _cr_failure_outside(c):
    r = c.session.get("/ok")
    return [raised(lambda: r.failure("x")), raised(r.success)]


def _cr_refused_rfs(c):
    with c.new_session(c.refused).get("/x", catch_response=True) as r:
        return raised(r.raise_for_status)


def _cr_error_fields(c):
    with c.new_session(c.refused).get("/x", catch_response=True) as r:
        return S(r)


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
        ("timeout", _get("/slow", timeout=1)),
        ("timeout_float", _get("/slow", timeout=0.5, params={"s": "1.5"})),
        ("dns", lambda c: S(c.new_session("http://nonexistent.invalid").get("/x"))),
        ("refused_rfs", lambda c: raised(c.new_session(c.refused).get("/x").raise_for_status)),
        ("closed_rfs", lambda c: raised(c.session.get("/close").raise_for_status)),
        ("timeout_rfs", lambda c: raised(c.session.get("/slow", timeout=1).raise_for_status)),
    ]


def rest():
    return [
        ("rest_json", _rest("GET", "/json")),
        ("rest_badjson", _rest("GET", "/badjson")),
        ("rest_404", _rest("GET", "/404")),
        ("rest_assert", _rest_assert),
        ("rest_assert_comma", _rest_assert_comma),
        ("rest_post_json", _rest("POST", "/echo", json={"a": 1})),
        ("rest_refused", _rest_refused),
        ("rest_underscore", _rest_underscore),
    ]


def _rest_user(c, session=None):
    class U(c.classes["RestMixin"]):
        client = session or c.session

    return U()


def _rest(method, path, **kw):
    def run(c):
        with _rest_user(c).rest(method, path, **kw) as r:
            return [r.js, r.status_code]

    return run


def _rest_assert(c):
    with _rest_user(c).rest("GET", "/json") as r:
        assert r.js["a"] == 2, "a was not 2"
    return "done"


def _rest_assert_comma(c):
    with _rest_user(c).rest("GET", "/json") as r:
        assert r.js["a"] == 2, "a was not 2,"
    return "done"


def _rest_refused(c):
    with _rest_user(c, c.new_session(c.refused)).rest("GET", "/x") as r:
        return [r.js, r.status_code]


def _rest_underscore(c):
    with _rest_user(c).rest_("GET", "/json?x=1") as r:
        return r.js


def all_scenarios():
    return names_and_params() + statuses() + redirects() + bodies() + headers_and_auth() + cookies() + catch_response() + errors() + rest()
