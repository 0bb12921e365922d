"""``HttpSession``'s responses: requests' own ``Response``, filled from the engine's ``Raw``.

Subclassing ``requests.Response`` (as Locust's ``ResponseContextManager`` does) keeps ``ok``,
``text``, ``json()``, ``raise_for_status()``, ``links``, ``iter_content()`` and the failure
texts byte for byte those of requests. Only what requests would have computed while reading
the socket is filled here, and the costly parts (headers, cookies, encoding) are built on
first use, since most tasks never look at them.

A network failure becomes the exception object requests would have raised, with the same
``__context__`` chain, so that Locust's unwrapping in ``__exit__`` (``clients.py:414-426``)
finds the same root error (``ConnectionRefusedError(111, 'Connection refused')``, ...).
"""

from __future__ import annotations

import datetime
import http.client
import re
import socket
from types import SimpleNamespace
from urllib.parse import urlsplit

import requests
from requests import Response
from requests.cookies import MockRequest, MockResponse, RequestsCookieJar
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ReadTimeout, TooManyRedirects
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError, ReadTimeoutError

from ._session_common import CatchResponse, report
from .exception import LocustError

_UNSET = object()

#: What Locust's ``__exit__`` unwraps through ``__context__`` to reach the root error.
_WRAPPERS = (requests.exceptions.ConnectionError, ProtocolError, MaxRetryError, NewConnectionError)


class ResponseContextManager(CatchResponse, Response):
    """Locust's ``clients.ResponseContextManager``: a requests ``Response`` that can also be
    used as ``with ... as response:`` to mark the request a success or a failure."""

    error = None
    _manual_result = None
    _raw = None
    _transport = None

    def __init__(self, error):
        """Only for errors caught while sending (Locust builds these the same way)."""
        super().__init__()
        self.error = error
        self.status_code = 0
        self._catch_response = True
        self.request = error.request

    # --- lazily built fields (requests sets these eagerly while reading the socket) ---------

    @property
    def headers(self):
        h = self.__dict__.get("_headers")
        if h is None:
            raw = self._raw
            h = self._headers = headers_dict(raw.headers if raw is not None else ())
        return h

    @headers.setter
    def headers(self, value):
        self._headers = value

    @property
    def cookies(self):
        c = self.__dict__.get("_cookies")
        if c is None:
            raw = self._raw
            c = self._cookies = cookies_of(raw.headers, self.url) if raw is not None else RequestsCookieJar()
        return c

    @cookies.setter
    def cookies(self, value):
        self._cookies = value

    @property
    def encoding(self):
        e = self.__dict__.get("_encoding", _UNSET)
        if e is _UNSET:
            e = self._encoding = get_encoding_from_headers(self.headers) if self._raw is not None else None
        return e

    @encoding.setter
    def encoding(self, value):
        self._encoding = value

    # --- Locust's ResponseContextManager ---------------------------------------------------

    def raise_for_status(self) -> None:
        """requests' ``raise_for_status`` that also honours ``success()``/``failure()``."""
        __tracebackhide__ = True
        if not self._manual_result:
            if self.error:
                raise self.error
            Response.raise_for_status(self)
        elif isinstance(self._manual_result, Exception):
            raise self._manual_result

    def wrap(self, request_event, request_meta, catch_response, transport, raw):
        """Locust's ``wrap_response``, plus what reporting to the engine needs."""
        self._entered = False
        self._manual_result = None
        self._request_event = request_event
        self._catch_response = catch_response
        self.request_meta = request_meta
        self._transport = transport
        self._raw = raw
        return self

    def _default_verdict(self):
        # The failure text names the stats name, not the URL, so that one name keeps one row.
        orig_url = self.url
        self.url = self.request_meta["name"]
        try:
            self.raise_for_status()
        except requests.exceptions.RequestException as e:
            while isinstance(e, _WRAPPERS) and e.__context__:
                e = e.__context__
            self.request_meta["exception"] = e
        self._report_request()
        self.url = orig_url

    def _report_request(self, exc=None):
        report(self._request_event, self._transport, self._raw, self.request_meta)


class RestResponseContextManager(ResponseContextManager):
    js: dict


def _missing_catch_response_True(self, *_args, **_kwargs):
    raise LocustError(
        "If you want to change the state of the request using .success() or .failure(), you must pass "
        "catch_response=True. See http://docs.locust.io/en/stable/writing-a-locustfile.html#validating-responses"
    )


# Locust patches requests' Response itself (clients.py:537-538); so does the front.
Response.success = _missing_catch_response_True
Response.failure = _missing_catch_response_True


# --- building responses --------------------------------------------------------------------


def response_from_raw(raw, prep):
    """The ``ResponseContextManager`` for an exchange that got an answer."""
    r = ResponseContextManager.__new__(ResponseContextManager)
    d = r.__dict__
    d["_raw"] = raw
    d["_content"] = raw.body
    d["_content_consumed"] = True
    d["_next"] = None
    d["status_code"] = raw.status
    d["raw"] = None
    d["reason"] = raw.reason
    d["elapsed"] = datetime.timedelta(seconds=raw.elapsed)
    d["connection"] = None
    if raw.history:
        d["url"] = raw.url
        d["history"] = [_hop(i, hop, prep) for i, hop in enumerate(raw.history)]
        d["request"] = _final_request(prep, raw)
    else:
        d["url"] = prep.url
        d["history"] = []
        d["request"] = _with_sent_cookie(prep, raw)
    return r


def headers_dict(pairs) -> CaseInsensitiveDict:
    """Response headers as requests shows them: repeats joined with ", ", first spelling kept."""
    merged = {}
    for k, v in pairs:
        low = k.lower()
        if low in merged:
            merged[low] = (merged[low][0], merged[low][1] + ", " + v)
        else:
            merged[low] = (k, v)
    return CaseInsensitiveDict(merged.values())


def cookies_of(pairs, url) -> RequestsCookieJar:
    """The cookies one response sets (requests' ``response.cookies``)."""
    jar = RequestsCookieJar()
    msg = http.client.HTTPMessage()
    for k, v in pairs:
        if k.lower() in ("set-cookie", "set-cookie2"):
            msg[k] = v
    if msg:
        jar.extract_cookies(MockResponse(msg), MockRequest(SimpleNamespace(url=url, headers={})))
    return jar


def _hop(i, hop, prep):
    """One response of ``history``: a plain requests ``Response``, as requests keeps them.
    The first one's request is the prepared request itself (it names the stats entry)."""
    status, url, headers = hop
    r = Response()
    r.status_code = status
    r.url = url
    r.headers = headers_dict(headers)
    r.cookies = cookies_of(headers, url)
    r._content = b""
    r._content_consumed = True
    r.request = prep if i == 0 else _copy_with_url(prep, url)
    return r


def _copy_with_url(prep, url):
    p = prep.copy()
    p.url = url
    return p


def _with_sent_cookie(prep, raw):
    """The prepared request, with the ``Cookie`` header the engine added from the jar."""
    if "Cookie" not in prep.headers:
        for k, v in raw.request_headers or ():
            if k.lower() == "cookie":
                prep.headers["Cookie"] = v
                break
    return prep


def _final_request(prep, raw):
    """The request of the last hop, rebuilt with requests' redirect rules."""
    p = _copy_with_url(prep, raw.url)
    p.headers.pop("Cookie", None)
    for status, _, _ in raw.history:
        if status in (302, 303) and p.method != "HEAD" or status == 301 and p.method == "POST":
            p.method = "GET"
        if status not in (307, 308):
            p.body = None
            for h in ("Content-Length", "Content-Type", "Transfer-Encoding"):
                p.headers.pop(h, None)
    return p


# --- network errors as requests raises them ------------------------------------------------


class _Named:
    """Stands in for a urllib3 pool or connection inside an error text (only ``str`` is used)."""

    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text


def _chain(*excs):
    """Links each exception's ``__context__`` to the next one, as nested ``except`` does."""
    for outer, inner in zip(excs, excs[1:]):
        outer.__context__ = inner
    return excs[0]


def _gai(text):
    """The ``gaierror`` a resolver failure is, from the engine's text when it says which."""
    m = re.search(r"\[Errno (-\d+)\] ([^)\]]+)", text or "")
    if m:
        return socket.gaierror(int(m.group(1)), m.group(2).strip())
    for code, msg in ((-3, "Temporary failure in name resolution"), (-5, "No address associated with hostname")):
        if msg.lower() in (text or "").lower():
            return socket.gaierror(code, msg)
    return socket.gaierror(-2, "Name or service not known")


def network_error(raw, prep, read_timeout, max_redirects):
    """The requests exception for a ``Raw`` without a response (``raw.url`` = failed hop)."""
    request = prep if raw.url == prep.url else _copy_with_url(prep, raw.url)
    parts = urlsplit(raw.url)
    scheme = "HTTPS" if parts.scheme == "https" else "HTTP"
    port = parts.port or (443 if scheme == "HTTPS" else 80)
    pool = _Named(f"{scheme}ConnectionPool(host={parts.hostname!r}, port={port!r})")
    conn = _Named(f"{scheme}Connection(host={parts.hostname!r}, port={port!r})")
    path = request.path_url
    kind = raw.error_kind
    if kind == "refused":
        root = ConnectionRefusedError(111, "Connection refused")
        mid = NewConnectionError(conn, "Failed to establish a new connection: [Errno 111] Connection refused")
        mre = MaxRetryError(pool, path, mid)
        return _chain(RequestsConnectionError(mre, request=request), mre, mid, root)
    if kind == "dns":
        root = _gai(raw.error)
        mid = NameResolutionError(parts.hostname, conn, root)
        mre = MaxRetryError(pool, path, mid)
        return _chain(RequestsConnectionError(mre, request=request), mre, mid, root)
    if kind in ("closed", "reset", "parse"):
        root = _protocol_root(raw)
        pe = ProtocolError("Connection aborted.", root)
        return _chain(RequestsConnectionError(pe, request=request), pe, root)
    if kind == "timeout":
        rte = ReadTimeoutError(pool, path, f"Read timed out. (read timeout={read_timeout})")
        return _chain(ReadTimeout(rte, request=request), rte)
    if kind == "redirects":
        return TooManyRedirects(f"Exceeded {max_redirects} redirects.", request=request)
    return RequestsConnectionError(raw.error or "request failed", request=request)


def _protocol_root(raw):
    """``RemoteDisconnected`` for a closed connection, ``ConnectionResetError`` for a reset
    one, ``BadStatusLine`` for a garbled one (the engine passes the status line as the text)."""
    if raw.error_kind == "closed":
        return http.client.RemoteDisconnected("Remote end closed connection without response")
    if raw.error_kind == "reset":
        return ConnectionResetError(104, "Connection reset by peer")
    return http.client.BadStatusLine(raw.error or "")
