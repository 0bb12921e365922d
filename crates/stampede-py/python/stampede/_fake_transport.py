"""``FakeTransport``: the engine's ``Transport`` in pure Python, for tests of the compat layer.

It does what the Rust transport promises (``_transport.Transport``): send one request with the
headers given plus ``Host``, ``Content-Length`` and ``Cookie``, follow redirects the way
requests does, keep a cookie jar, and never raise for a network error (``Raw.error_kind``
says what went wrong). It is blocking ``http.client`` on purpose: under gevent's
monkey-patching that is cooperative, and without it the tests stay simple.

Everything recorded goes into the module-level ``recorded`` list so tests can compare it with
what Locust reports.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import zlib
from types import SimpleNamespace
from typing import List, Optional, Tuple
from urllib.parse import urljoin, urlsplit

from requests.cookies import MockRequest, MockResponse, RequestsCookieJar, create_cookie, get_cookie_header
from requests.utils import requote_uri

from stampede._transport import Headers, Raw, Transport

#: Every ``record``/``record_event`` call of every FakeTransport, as dicts, in order.
recorded: list = []

_REDIRECTS = (301, 302, 303, 307, 308)


class _Failed(Exception):
    """A hop that ended without a response; ``kind`` is one of ``ERROR_KINDS``."""

    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind


class FakeTransport(Transport):
    """A user's transport: its own cookie jar, one new connection per hop."""

    def __init__(self):
        self.jar = RequestsCookieJar()

    # --- requests -----------------------------------------------------------------------------

    def request(self, method, url, headers, body, *, allow_redirects=True, max_redirects=30,
                timeout=None, insecure=False, connect_timeout=None, name=None, auto=0) -> Raw:
        """Sends the request and follows redirects as requests' ``resolve_redirects`` does."""
        start = time.perf_counter()
        extra = _cookie_pairs(headers)
        headers = [(k, v) for k, v in headers if k.lower() != "cookie"]
        history, first_sent = [], None
        while True:
            try:
                status, reason, rheaders, rbody, sent = self._hop(
                    method, url, headers, body, extra, (timeout, connect_timeout, insecure))
            except _Failed as f:
                return _raw(0, "", url, [], b"", start, history, f.kind, str(f), first_sent)
            first_sent = first_sent or sent
            self._extract(url, rheaders)
            location = _header(rheaders, "location")
            if not (allow_redirects and status in _REDIRECTS and location):
                return _raw(status, reason, url, rheaders, rbody, start, history, None, None, first_sent)
            if len(history) >= max_redirects:
                return _raw(0, "", url, [], b"", start, history, "redirects",
                            f"Exceeded {max_redirects} redirects.", first_sent)
            history.append((status, url, rheaders))
            old_url, url = url, _next_url(url, location)
            method, headers, body = _rebuild(method, status, headers, body, old_url, url)

    def _hop(self, method, url, headers, body, extra, limits):
        """One exchange; returns (status, reason, headers, body, headers sent)."""
        parts = urlsplit(url)
        conn = _connection(parts, limits)
        # The request's own Host wins, as the engine sends it to the request's origin.
        own_host = any(k.lower() == "host" for k, _ in headers)
        sent = ([] if own_host else [("Host", parts.netloc.rpartition("@")[2])]) + list(headers)
        cookie = self._cookie_header(url, extra)
        if cookie:
            sent.append(("Cookie", cookie))
        if body is not None:
            sent.append(("Content-Length", str(len(body))))
        try:
            return self._exchange(conn, method, parts, sent, body, limits[0])
        except Exception as e:  # noqa: BLE001 - every failure becomes an error kind
            kind = _kind(e)
            # For a garbled status line the engine passes the line itself (see Raw.error).
            text = e.line if isinstance(e, http.client.BadStatusLine) and kind == "parse" else f"{type(e).__name__}: {e}"
            raise _Failed(kind, text) from None
        finally:
            conn.close()

    @staticmethod
    def _exchange(conn, method, parts, sent, body, timeout):
        conn.connect()
        conn.sock.settimeout(timeout)  # the connect had its own limit; reads have this one
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in sent:
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        rheaders = resp.getheaders()
        return resp.status, resp.reason, rheaders, _decode(data, _header(rheaders, "content-encoding")), sent

    # --- cookies ------------------------------------------------------------------------------

    def _cookie_header(self, url, extra):
        """The jar's cookies for ``url`` plus the request's own (``Cookie`` header given)."""
        jar = RequestsCookieJar()
        jar.update(self.jar)
        for name, value in extra:
            jar.set_cookie(create_cookie(name, value))
        return get_cookie_header(jar, SimpleNamespace(url=url, headers={}))

    def _extract(self, url, rheaders):
        msg = http.client.HTTPMessage()
        for k, v in rheaders:
            msg[k] = v
        self.jar.extract_cookies(MockResponse(msg), MockRequest(SimpleNamespace(url=url, headers={})))

    def cookies(self) -> List[Tuple[str, str, str, str]]:
        return [(c.name, c.value, c.domain, c.path) for c in self.jar]

    def set_cookie(self, name, value, domain="", path="/") -> None:
        self.jar.set_cookie(create_cookie(name, value, domain=domain, path=path))

    def remove_cookie(self, name, domain=None, path=None) -> None:
        for c in list(self.jar):
            if c.name == name and domain in (None, c.domain) and path in (None, c.path):
                self.jar.clear(c.domain, c.path, c.name)

    def clear_cookies(self) -> None:
        self.jar.clear()

    # --- statistics ---------------------------------------------------------------------------

    def record(self, raw, method, name, error, response_length) -> None:
        recorded.append({"kind": "request", "method": method, "name": name, "error": error,
                         "response_length": response_length, "response_time": raw.elapsed * 1000,
                         "url": raw.url, "transport": self})

    def record_event(self, method, name, response_time_ms, response_length, error) -> None:
        recorded.append({"kind": "event", "method": method, "name": name, "error": error,
                         "response_length": response_length, "response_time": response_time_ms,
                         "url": None, "transport": self})

    def new_session(self) -> "FakeTransport":
        return FakeTransport()


def _connection(parts, limits):
    """An unconnected ``http.client`` connection whose connect has the connect limit."""
    timeout, connect_timeout, insecure = limits
    if parts.scheme == "https":
        ctx = ssl._create_unverified_context() if insecure else None
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=connect_timeout or timeout, context=ctx)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=connect_timeout or timeout)


def _raw(status, reason, url, headers, body, start, history, kind, error, sent) -> Raw:
    return Raw(status=status, reason=reason, url=url, headers=headers, body=body,
               elapsed=time.perf_counter() - start, history=history, error_kind=kind, error=error,
               request_headers=sent or [], content_length=len(body), ticket=None)


def _header(headers: Headers, name: str) -> Optional[str]:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _cookie_pairs(headers: Headers):
    """The name=value pairs of a ``Cookie`` header given with the request."""
    pairs = []
    for k, v in headers:
        if k.lower() == "cookie":
            for item in v.split(";"):
                name, sep, value = item.strip().partition("=")
                if sep:
                    pairs.append((name, value))
    return pairs


def _decode(data: bytes, encoding: Optional[str]) -> bytes:
    """Undoes a ``Content-Encoding`` (gzip, deflate, br), as requests does."""
    enc = (encoding or "").strip().lower()
    if enc == "gzip":
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if enc == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -zlib.MAX_WBITS)
    if enc == "br":
        import brotli

        return brotli.decompress(data)
    return data


def _kind(e: BaseException) -> str:
    """Which ``ERROR_KINDS`` entry an ``http.client``/socket failure is."""
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, socket.gaierror):
        return "dns"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, ConnectionResetError) and not isinstance(e, http.client.RemoteDisconnected):
        return "reset"
    if isinstance(e, (http.client.RemoteDisconnected, http.client.IncompleteRead, BrokenPipeError)):
        return "closed"
    if isinstance(e, http.client.HTTPException):
        return "parse"
    return "other"


def _next_url(url: str, location: str) -> str:
    """requests' ``get_redirect_target`` + ``resolve_redirects`` URL rules."""
    if location.startswith("//"):
        location = f"{urlsplit(url).scheme}:{location}"
    if not urlsplit(location).netloc:
        return urljoin(url, requote_uri(location))
    return requote_uri(location)


def _rebuild(method, status, headers, body, old_url, new_url):
    """requests' ``rebuild_method``, body dropping and ``rebuild_auth`` for one redirect."""
    if status == 303 and method != "HEAD":
        method = "GET"
    elif status == 302 and method != "HEAD":
        method = "GET"
    elif status == 301 and method == "POST":
        method = "GET"
    drop = set()
    if status not in (307, 308):
        drop |= {"content-length", "content-type", "transfer-encoding"}
        body = None
    old, new = urlsplit(old_url), urlsplit(new_url)
    if old.hostname != new.hostname:
        drop.add("authorization")
    return method, [(k, v) for k, v in headers if k.lower() not in drop], body
