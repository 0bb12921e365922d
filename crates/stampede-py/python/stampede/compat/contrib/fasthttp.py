"""``locust.contrib.fasthttp``: ``FastHttpUser`` and ``FastHttpSession``.

Python builds each request as Locust's ``FastHttpSession`` over geventhttpclient's
``UserAgent`` would (headers, query string, body, Basic auth), hands it to the engine's
transport, and applies Locust's verdict: any status outside ``valid_response_codes`` is a
``LocustBadStatusCode``, and a request with no answer fails with the exception
geventhttpclient would have raised. The stats name is ``name or url`` exactly as passed.

Locust 2.47's ``locust/contrib/fasthttp.py`` is the reference; line numbers point into it.
"""

from __future__ import annotations

import json as unshadowed_json
import re
import socket
import time
from base64 import b64encode
from contextlib import contextmanager
from urllib.parse import unquote, urlparse, urlunparse

from .._cookies import TransportCookieJar
from .._session_common import (
    counts_in_engine,
    has_listeners,
    merge_context,
    pick_transport,
    record_only,
    report,
    unsupported,
)
from ..exception import StopTest
from ._fast_response import ErrorResponse, FastRequest, FastResponse, ResponseContextManager, RestResponseContextManager
from ._fast_support import (
    FAILURE_EXCEPTIONS,
    USER_AGENT,
    ConnectionError,
    FastHeaders,
    HTTPConnectionClosed,
    HTTPParseError,
    RetriesExceeded,
    encode_multipart,
    request_url,
)

__all__ = ["FastHttpUser", "FastHttpSession", "FastResponse", "ResponseContextManager", "RestResponseContextManager",
           "ErrorResponse", "LocustBadStatusCode", "FAILURE_EXCEPTIONS"]

absolute_http_url_regexp = re.compile(r"^https?://", re.IGNORECASE)

#: LocustUserAgent's (``fasthttp.py:625``): any other status is a failure, 300 and 210 included.
VALID_RESPONSE_CODES = frozenset([200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 301, 302, 303, 304, 307, 308])

#: What geventhttpclient's ``UserAgent`` and ``HTTPClientPool`` accept besides the refused.
_AGENT_DEFAULTS = {"max_redirects": 3, "max_retries": 3, "retry_delay": 0, "headers": None,
                   "network_timeout": 5.0, "connection_timeout": 5.0, "concurrency": 1,
                   "disable_ipv6": False, "block_size": 4096}
_REFUSED = ("proxy_host", "proxy_port", "proxy_user", "proxy_password", "ssl_options", "cookiejar")


class LocustBadStatusCode(ConnectionError):
    """A status outside ``valid_response_codes``; its ``repr`` hides the URL, so one name
    keeps one row in the failures table."""

    def __repr__(self):
        repr_str = super().__repr__()
        if self.kw_text:
            return repr_str.replace(repr(self.url) + ", ", "")
        return repr_str


def _construct_basic_auth_str(username, password):
    """Construct Authorization header value to be used in HTTP Basic Auth"""
    if isinstance(username, str):
        username = username.encode("latin1")
    if isinstance(password, str):
        password = password.encode("latin1")
    return "Basic " + b64encode(b":".join((username, password))).strip().decode("ascii")


class _AgentSettings:
    """Stands where Locust has its ``LocustUserAgent`` (``session.client``): the settings a
    locustfile may read or change (``max_redirects``, ``max_retries``, ``default_headers``,
    timeouts). The connections themselves are the engine's."""

    def __init__(self, options):
        self.max_redirects = int(options["max_redirects"])
        self.max_retries = int(options["max_retries"])
        self.retry_delay = options["retry_delay"]
        self.network_timeout = options["network_timeout"]
        self.connection_timeout = options["connection_timeout"]
        self.concurrency = options["concurrency"]
        self.default_headers = FastHeaders({"User-Agent": USER_AGENT})
        if options["headers"]:
            for k, v in dict(options["headers"]).items():
                self.default_headers[k] = v
        self.valid_response_codes = VALID_RESPONSE_CODES
        self.redirect_response_codes = frozenset([301, 302, 303, 307, 308])


class FastHttpSession:
    """Locust's ``FastHttpSession``: geventhttpclient's API over the engine's transport."""

    auth_header = None

    def __init__(self, base_url, request_event, user, insecure=True, client_pool=None, ssl_context_factory=None,
                 **kwargs):
        if client_pool is not None:
            raise unsupported("FastHttpSession(client_pool=...) / FastHttpUser.client_pool")
        if ssl_context_factory is not None:
            raise unsupported("FastHttpSession(ssl_context_factory=...) / FastHttpUser.ssl_context_factory")
        self.base_url = base_url
        self.request_event = request_event
        self.user = user
        self.request_name = None
        self.insecure = insecure
        self.client = _AgentSettings(_agent_options(kwargs))
        self._transport = pick_transport(user)
        self.cookiejar = TransportCookieJar(self._transport)
        if self.base_url:
            self._take_credentials()

    def _take_credentials(self):
        """Credentials in ``base_url`` become an Authorization header (``fasthttp.py:134-154``)."""
        parsed_url = urlparse(self.base_url)
        if parsed_url.username and parsed_url.password:
            netloc = parsed_url.netloc.rpartition("@")[2]
            self.base_url = str(urlunparse((parsed_url.scheme, netloc, parsed_url.path, parsed_url.params,
                                            parsed_url.query, parsed_url.fragment)))
            self.auth_header = _construct_basic_auth_str(unquote(parsed_url.username), unquote(parsed_url.password))

    def _build_url(self, path):
        """prepend url with hostname unless it's already an absolute URL"""
        if absolute_http_url_regexp.match(path):
            return path
        return f"{self.base_url}{path}"

    @contextmanager
    def rename_request(self, name: str):
        """Group requests using the "with" keyword"""
        self.request_name = name
        try:
            yield
        finally:
            self.request_name = None

    def request(self, method, url, name=None, data=None, catch_response=False, stream=False, headers=None,
                auth=None, json=None, allow_redirects=True, context={}, **kwargs):
        """Sends a request and reports it under ``name or url`` (``fasthttp.py:197-322``)."""
        if self.request_name and not name:
            name = self.request_name
        built_url = self._build_url(url)
        headers = self._request_headers(headers, auth)
        if not data and json is not None:
            data = unshadowed_json.dumps(json)
            if "Content-Type" not in headers and "content-type" not in headers:
                headers["Content-Type"] = "application/json"
            if "Accept" not in headers and "accept" not in headers:
                headers["Accept"] = "application/json"
        raw, response = self._send(method, built_url, data, headers, (allow_redirects, stream, name or url, catch_response), kwargs)
        length = _length(response, stream)
        exc = response.error
        hook = self.request_event
        if not catch_response and counts_in_engine(hook) and not has_listeners(hook):
            record_only(self._transport, raw, method, name or url, exc, length)
            return response
        request_meta = {
            "request_type": method,
            "name": name or url,
            "context": merge_context(self.user, context),
            "response": response,
            "exception": exc,
            "start_time": time.time() - raw.elapsed,
            "url": built_url,
            "response_length": length,
            "response_time": raw.elapsed * 1000,
        }
        if catch_response:
            rcm = ResponseContextManager(response, hook, request_meta, catch_response)
            rcm._transport = self._transport
            return rcm
        report(hook, self._transport, raw, request_meta)
        return response

    def _request_headers(self, headers, auth):
        """The request's own headers, with Authorization and Accept-Encoding as Locust adds them."""
        headers = dict(headers) if headers else {}
        if auth:
            headers["Authorization"] = _construct_basic_auth_str(auth[0], auth[1])
        elif self.auth_header:
            headers["Authorization"] = self.auth_header
        if "Accept-Encoding" not in headers and "accept-encoding" not in headers:
            headers["Accept-Encoding"] = "gzip, deflate, br"
        return headers

    def _send(self, method, url, payload, headers, options, kwargs):
        """``UserAgent.urlopen`` up to the wire, then the transport; returns (raw, response).
        ``options`` is (allow_redirects, stream, stats name)."""
        allow_redirects, stream, name, catch_response = options
        # The engine may record a plain success itself (geventhttpclient's default codes).
        auto = 2
        if catch_response or stream or self.client.valid_response_codes is not VALID_RESPONSE_CODES:
            auto = 0
        elif not counts_in_engine(self.request_event):
            auto = 0
        params, files, max_redirects = None, None, self.client.max_redirects
        if kwargs:
            params, files, max_redirects = _urlopen_options(method, payload, kwargs, max_redirects)
            if kwargs and method.upper() == "POST":
                if payload is None:
                    payload = kwargs
                elif isinstance(payload, dict):
                    payload.update(kwargs)
        req_headers = self.client.default_headers.copy()
        for k, v in headers.items():
            req_headers[k] = v
        payload = _make_body(req_headers, payload, files)
        request = FastRequest(method.upper(), url, req_headers, payload)
        wire = [(k, v) for k, v in req_headers.items() if k.lower() != "content-length"]
        raw = self._transport.request(
            request.method, request_url(url, params), wire, _wire_body(request.method, payload),
            allow_redirects=allow_redirects and max_redirects > 0, max_redirects=max_redirects,
            timeout=self.client.network_timeout, connect_timeout=self.client.connection_timeout,
            insecure=bool(self.insecure), name=name, auto=auto,
        )
        return raw, self._response(raw, request, url, stream, max_redirects)

    def _response(self, raw, request, url, stream, max_redirects):
        """The FastResponse (or ErrorResponse) and its error, as geventhttpclient leaves them."""
        if raw.error_kind:
            return ErrorResponse(request, self._network_error(raw, url, max_redirects), raw)
        if raw.history:
            request.url = raw.url
            for status, _, _ in raw.history:
                if status in (301, 302, 303) and request.method != "HEAD":
                    request.method, request.payload = "GET", None
        response = FastResponse(raw, request, request.url, stream)
        if raw.status not in self.client.valid_response_codes:
            error = LocustBadStatusCode(request.url, code=raw.status)
            error.response, error.request = response, request
            response.error = error
        return response

    def _network_error(self, raw, url, max_redirects):
        """The exception geventhttpclient raises for a request without an answer."""
        kind = raw.error_kind
        if kind == "refused":
            return ConnectionRefusedError(111, "Connection refused")
        if kind == "dns":
            from .._http_response import _gai

            return _gai(raw.error)
        if kind in ("closed", "reset"):  # geventhttpclient reads a reset as a close too
            return HTTPConnectionClosed("connection closed.")
        if kind == "parse":
            return HTTPParseError("Expected HTTP/, RTSP/ or ICE/", 8)
        if kind == "timeout":
            return RetriesExceeded(url, self.client.max_retries, original=socket.timeout("timed out"))
        if kind == "redirects":
            return RetriesExceeded(url, f"Redirection limit reached ({max_redirects})")
        return ConnectionError(url, raw.error or "request failed")

    def get(self, url, **kwargs):
        """Sends a GET request"""
        return self.request("GET", url, **kwargs)

    def delete(self, url, **kwargs):
        """Sends a DELETE request"""
        return self.request("DELETE", url, **kwargs)

    def head(self, url, **kwargs):
        """Sends a HEAD request"""
        return self.request("HEAD", url, **kwargs)

    def options(self, url, **kwargs):
        """Sends a OPTIONS request"""
        return self.request("OPTIONS", url, **kwargs)

    def patch(self, url, data=None, **kwargs):
        """Sends a PATCH request"""
        return self.request("PATCH", url, data=data, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        """Sends a POST request"""
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        """Sends a PUT request"""
        return self.request("PUT", url, data=data, **kwargs)

    def iter_lines(self, url, method="GET", **kwargs):
        """Sends a iter_lines request for streaming responses"""
        response = self.request(method, url, stream=True, **kwargs)
        response.raise_for_status()
        buffer = ""
        for chunk in response.iter_content(chunk_size=1024, decode_content=True):
            if isinstance(chunk, bytes):
                chunk = chunk.decode("utf-8", errors="replace")
            buffer += chunk
            while "\n" in buffer:
                line, buffer = buffer.split("\n", 1)
                yield line
        if buffer:
            yield buffer


def _agent_options(kwargs):
    """The UserAgent/HTTPClientPool settings, refusing by name what the engine cannot do."""
    for key in _REFUSED:
        if kwargs.get(key) is not None:
            raise unsupported(f"FastHttpSession({key}=...)")
    unknown = set(kwargs) - set(_AGENT_DEFAULTS) - set(_REFUSED)
    if unknown:
        raise TypeError(f"FastHttpSession() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    return {k: kwargs.get(k, v) for k, v in _AGENT_DEFAULTS.items()}


def _urlopen_options(method, payload, kwargs, max_redirects):
    """Takes ``urlopen``'s own options out of ``kwargs``; what is left becomes query
    parameters (or, for a POST, form fields), as ``UserAgent.urlopen`` does with ``**kw``."""
    for key in ("to_string", "debug_stream"):
        if kwargs.pop(key, None):
            raise unsupported(f"FastHttpSession.request({key}=...)")
    params = kwargs.pop("params", None)
    files = kwargs.pop("files", None)
    kwargs.pop("max_retries", None)
    if kwargs.get("max_redirects") is not None:
        max_redirects = int(kwargs.pop("max_redirects"))
    kwargs.pop("max_redirects", None)
    if kwargs and method.upper() != "POST":
        if params is None:
            params = dict(kwargs)
        elif isinstance(params, dict):
            params.update(kwargs)
        kwargs.clear()
    return params, files, max_redirects


def _make_body(headers, payload, files):
    """geventhttpclient's ``_make_request``: the body and the Content-Type it implies."""
    content_type = headers.get("content-type")
    if files:
        payload, content_type = encode_multipart(files, payload)
        headers["content-type"] = content_type
    elif payload:
        if isinstance(payload, dict):
            if not content_type:
                headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8"
            from urllib.parse import urlencode

            payload = urlencode(payload).encode()
        elif not content_type and isinstance(payload, str):
            headers["content-type"] = "text/plain; charset=utf-8"
            payload = payload.encode()
        elif not content_type:
            headers["content-type"] = "application/octet-stream"
    return payload


def _wire_body(method, payload):
    """The body bytes, or None when geventhttpclient would send no Content-Length."""
    if payload is None or payload == b"" or payload == "":
        return b"" if method in ("POST", "PUT", "PATCH") else None
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if hasattr(payload, "read"):
        data = payload.read()
        return data.encode("utf-8") if isinstance(data, str) else data
    return b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in payload)


def _length(response, stream):
    """Locust's ``response_length``: the body's length, or Content-Length when streaming."""
    if stream:
        headers = response.headers
        if headers and "content-length" in headers:
            return int(headers["content-length"])
        return 0
    content = response.content
    return len(content) if content else 0


try:
    from ..user.users import RestMixin, User
except ImportError:  # pragma: no cover - the user module comes from another part of the front
    User = None

if User is not None:

    class FastHttpUser(User, RestMixin):
        """FastHttpUser provides the same API as HttpUser, but uses geventhttpclient instead of
        python-requests as its underlying client (in Stampede: the engine's transport, with
        geventhttpclient's behaviour)."""

        network_timeout: float = 60.0
        connection_timeout: float = 60.0
        max_redirects: int = 30
        max_retries: int = 0
        insecure: bool = True
        default_headers: dict | None = None
        concurrency: int = 10
        proxy_host: str | None = None
        proxy_port: int | None = None
        client_pool = None
        ssl_context_factory = None
        abstract = True

        def __init__(self, environment) -> None:
            super().__init__(environment)
            if self.host is None:
                raise StopTest(
                    "You must specify the base host. Either in the host attribute in the User class, or on the command line using the --host option."
                )
            self.client: FastHttpSession = FastHttpSession(
                base_url=self.host,
                request_event=self.environment.events.request,
                network_timeout=self.network_timeout,
                connection_timeout=self.connection_timeout,
                max_redirects=self.max_redirects,
                max_retries=self.max_retries,
                insecure=self.insecure,
                concurrency=self.concurrency,
                user=self,
                client_pool=self.client_pool,
                ssl_context_factory=self.ssl_context_factory,
                headers=self.default_headers,
                proxy_host=self.proxy_host,
                proxy_port=self.proxy_port,
            )


def __getattr__(name):
    """Names of ``locust.contrib.fasthttp`` the front does not provide fail by name on import."""
    if name in ("LocustUserAgent", "insecure_ssl_context_factory"):
        raise unsupported(f"locust.contrib.fasthttp.{name} (the engine makes the connections)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
