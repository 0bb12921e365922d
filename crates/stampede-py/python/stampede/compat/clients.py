"""``locust.clients``: ``HttpSession``, the requests-style client of ``HttpUser``.

Python builds each request exactly as requests would (requests' own ``PreparedRequest`` does
the URL, ``params``, body, ``files``, ``json``, ``auth`` and header merging), then hands the
result to the engine's transport, which does the I/O, the redirects and the cookie jar. The
stats name is requests' ``path_url`` of the first request, as in Locust; the verdict and the
failure texts are Locust's (``_http_response``). Nothing here ever sends with requests.

Locust 2.47's ``locust/clients.py`` is the reference; line numbers below point into it.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from contextlib import contextmanager
from http.cookiejar import CookieJar
from urllib.parse import unquote, urlparse, urlunparse

import requests
from requests import PreparedRequest
from requests.auth import HTTPBasicAuth
from requests.cookies import RequestsCookieJar, cookiejar_from_dict
from requests.exceptions import InvalidSchema, InvalidURL, MissingSchema, RequestException
from requests.hooks import default_hooks
from requests.models import DEFAULT_REDIRECT_LIMIT
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict
from requests.utils import default_headers

from ._cookies import TransportCookieJar
from ._http_response import ResponseContextManager, RestResponseContextManager, network_error, response_from_raw
from ._session_common import counts_in_engine, merge_context, pick_transport, unsupported

__all__ = ["HttpSession", "ResponseContextManager", "RestResponseContextManager", "absolute_http_url_regexp"]

absolute_http_url_regexp = re.compile(r"^https?://", re.IGNORECASE)

#: requests.Session.request's keyword arguments besides data/json (all but the last four work).
_KWARGS = frozenset(("params", "headers", "cookies", "files", "auth", "timeout", "allow_redirects",
                     "stream", "verify", "proxies", "hooks", "cert"))

#: The per-request cookie jar of a request without ``cookies=`` (never written to).
_NO_COOKIES = RequestsCookieJar()

#: Headers the transport writes itself (or that a whole body makes wrong). A ``Host`` of the
#: request's own goes through: the engine sends it to the request's first origin.
_ENGINE_HEADERS = frozenset(("content-length", "transfer-encoding"))


class HttpSession(requests.Session):
    """Locust's ``HttpSession``: requests' ``Session`` API over the engine's transport.

    A ``requests.Session`` subclass, as Locust's is, but ``Session.__init__`` is not run: it
    would build two connection-pool adapters per user that nothing uses. The attributes it
    sets are set here instead (``headers``, ``cookies``, ``auth``, ``params``, ``verify``,
    ``max_redirects``...), so locustfiles can read and change them; requests go through the
    user's transport and are counted by the engine.
    """

    def __init__(self, base_url, request_event, user, *args, pool_manager=None, **kwargs):
        if args or kwargs:
            raise TypeError(f"HttpSession() got unexpected arguments: {args!r} {kwargs!r}")
        if pool_manager is not None:
            raise unsupported("HttpSession(pool_manager=...) / HttpUser.pool_manager")
        self.headers = default_headers()
        self.auth = None
        self.proxies = {}
        self.hooks = default_hooks()
        self.params = {}
        self.stream = False
        self.verify = True
        self.cert = None
        self.max_redirects = DEFAULT_REDIRECT_LIMIT
        self.adapters = OrderedDict()
        self.trust_env = True  # read by nobody: the engine never looks at proxy variables
        self.base_url = base_url
        self.request_event = request_event
        self.user = user
        self.request_name = None
        self.explicit_name = None
        self._transport = pick_transport(user)
        self._cookies = TransportCookieJar(self._transport)
        self._take_credentials()

    def _take_credentials(self):
        """Credentials in ``base_url`` become basic auth (percent-decoded), ``clients.py:100-109``."""
        parsed_url = urlparse(self.base_url)
        if parsed_url.username and parsed_url.password:
            netloc = parsed_url.netloc.rpartition("@")[2]
            self.base_url = urlunparse(
                (parsed_url.scheme, netloc, parsed_url.path, parsed_url.params, parsed_url.query, parsed_url.fragment)
            )
            self.auth = HTTPBasicAuth(unquote(parsed_url.username), unquote(parsed_url.password))

    @property
    def cookies(self) -> RequestsCookieJar:
        """The user's cookie jar (kept by the engine) as a ``RequestsCookieJar``."""
        return self._cookies

    @cookies.setter
    def cookies(self, jar):
        self._cookies.clear()
        if not isinstance(jar, CookieJar):
            jar = cookiejar_from_dict(jar)
        self._cookies.update(jar)

    def _build_url(self, path) -> str:
        """Prepends ``base_url`` by plain concatenation unless ``path`` is absolute."""
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

    # --- requests ---------------------------------------------------------------------------

    def request(self, method, url, name=None, catch_response=False, context={}, *, data=None, json=None, **kwargs):
        """Sends a request the way ``requests.Session.request`` would and reports it to Locust's
        statistics, under ``name`` or the first request's ``path_url`` (``clients.py:131-229``)."""
        if self.request_name and not name:
            name = self.request_name
        self.explicit_name = name
        self._check(kwargs)
        complete_url = self._build_url(url)
        try:
            prep = self._prepare(method, complete_url, data, json, kwargs)
        except (MissingSchema, InvalidSchema, InvalidURL):
            raise
        except RequestException as e:  # Locust reports these as a failed request
            return self._finish(ResponseContextManager(e), None, method, url, name, complete_url, catch_response, context, kwargs)
        raw = self._send(prep, kwargs, name or prep.path_url, catch_response)
        if raw.error_kind:
            error = network_error(raw, prep, _read_timeout(kwargs.get("timeout")), self.max_redirects)
            response = ResponseContextManager(error)
        else:
            response = response_from_raw(raw, prep)
        return self._finish(response, raw, method, url, name, complete_url, catch_response, context, kwargs)

    def _finish(self, response, raw, method, url, name, complete_url, catch_response, context, kwargs):
        """Names the request, builds ``request_meta`` and reports it unless the caller will
        decide in a ``with`` block (``clients.py:194-229``)."""
        first = ((response.history and response.history[0]) or response).request
        if first is not None:
            complete_url = str(first.url)
            if not name:
                name = first.path_url
        elif not name:
            name = str(url)
        request_meta = {
            "request_type": method,
            "response_time": raw.elapsed * 1000 if raw is not None else 0.0,
            "name": name,
            "context": merge_context(self.user, context),
            "response": response,
            "exception": None,
            "start_time": time.time() - (raw.elapsed if raw is not None else 0.0),
            "url": complete_url,
        }
        if kwargs.get("stream", False):
            request_meta["response_length"] = int(response.headers.get("content-length") or 0)
        else:
            request_meta["response_length"] = len(response.content or b"")
        rcm = response.wrap(self.request_event, request_meta, catch_response, self._transport, raw)
        if not catch_response:
            rcm.__exit__(None, None, None)
        return rcm

    def _check(self, kwargs):
        """Refuses, by name, what the engine cannot do (a ``LocustError`` in the task)."""
        unknown = set(kwargs) - _KWARGS
        if unknown:
            raise TypeError(f"request() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        for key in ("proxies", "cert", "hooks"):
            if kwargs.get(key) or (key != "hooks" and getattr(self, key)):
                raise unsupported(f"HttpSession {key}=")
        if any(self.hooks.values()):
            raise unsupported("HttpSession.hooks")
        verify = kwargs.get("verify")
        if isinstance(verify if verify is not None else self.verify, str):
            raise unsupported("HttpSession verify=<CA bundle path> (use --ca-cert)")

    def _prepare(self, method, url, data, json, kwargs) -> PreparedRequest:
        """requests' ``Session.prepare_request``, except the session's cookies: the engine
        adds those from its jar (only the request's own ``cookies=`` go in the header)."""
        cookies = kwargs.get("cookies")
        if not cookies:
            cookies = _NO_COOKIES
        elif not isinstance(cookies, CookieJar):
            cookies = cookiejar_from_dict(cookies)
        # PreparedRequest.prepare(), step by step, so that the URL of a request without
        # params can come from a cache (prepare_url is pure, and costs ~20 us).
        p = PreparedRequest()
        p.prepare_method(method.upper())
        params = _merge_or_empty(kwargs.get("params"), self.params)
        if params:
            p.prepare_url(url, params)
        else:
            p.url = _prepared_url(url)
        p.prepare_headers(self._merged_headers(kwargs.get("headers")))
        p.prepare_cookies(cookies)
        p.prepare_body(data or {}, kwargs.get("files") or [], json)
        p.prepare_auth(merge_setting(kwargs.get("auth"), self.auth), url)
        if any(p.hooks.values()):  # an auth that needs the response (HTTPDigestAuth...)
            raise unsupported(f"auth={type(kwargs.get('auth') or self.auth).__name__} (only auth that sets headers)")
        return p

    def _merged_headers(self, headers):
        """``merge_setting(headers, self.headers)``, without its cost when there is nothing
        to merge (the common case: no per-request headers)."""
        if headers:
            return merge_setting(headers, self.headers, dict_class=CaseInsensitiveDict)
        return CaseInsensitiveDict([(k, v) for k, v in self.headers.items() if v is not None])

    def _send(self, prep, kwargs, name, catch_response=False):
        """Hands the prepared request to the transport. The body always goes whole, so a
        streamed body's ``Transfer-Encoding: chunked`` becomes a ``Content-Length``."""
        headers = [(k, v) for k, v in prep.headers.items() if k.lower() not in _ENGINE_HEADERS]
        timeout = kwargs.get("timeout")
        connect = None
        if isinstance(timeout, tuple):
            connect, timeout = timeout
        verify = kwargs.get("verify")
        return self._transport.request(
            prep.method,
            prep.url,
            headers,
            _body_bytes(prep),
            allow_redirects=kwargs.get("allow_redirects", True),
            max_redirects=self.max_redirects,
            timeout=timeout,
            connect_timeout=connect,
            insecure=(verify if verify is not None else self.verify) is False,
            name=name,
            # The engine may record a plain success itself (requests' rule, statuses
            # outside 400-599) when this session's requests feed the statistics.
            auto=0 if catch_response or kwargs.get("stream") or not counts_in_engine(self.request_event) else 1,
        )

    def get(self, url, *, data=None, json=None, **kwargs):
        """Sends a GET request"""
        kwargs.setdefault("allow_redirects", True)
        return self.request("GET", url, data=data, json=json, **kwargs)

    def options(self, url, *, data=None, json=None, **kwargs):
        """Sends a OPTIONS request"""
        kwargs.setdefault("allow_redirects", True)
        return self.request("OPTIONS", url, data=data, json=json, **kwargs)

    def head(self, url, *, data=None, json=None, **kwargs):
        """Sends a HEAD request"""
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, data=data, json=json, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        """Sends a POST request"""
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, *, json=None, **kwargs):
        """Sends a PUT request"""
        return self.request("PUT", url, data=data, json=json, **kwargs)

    def patch(self, url, data=None, *, json=None, **kwargs):
        """Sends a PATCH request"""
        return self.request("PATCH", url, data=data, json=json, **kwargs)

    def delete(self, url, *, data=None, json=None, **kwargs):
        """Sends a DELETE request"""
        return self.request("DELETE", url, data=data, json=json, **kwargs)

    # --- the rest of requests.Session's surface ------------------------------------------------

    def mount(self, prefix, adapter):
        raise unsupported("HttpSession.mount() (transport adapters)")

    def send(self, request, **kwargs):
        raise unsupported("HttpSession.send() (send a request with .request() or .get()/.post()/...)")

    def get_adapter(self, url):
        raise unsupported("HttpSession.get_adapter() (the engine has no transport adapters)")

    def close(self):
        """Nothing to close: the engine owns the connections."""

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()


def _merge_or_empty(request_setting, session_setting):
    """``merge_setting`` for ``params``; None when both are empty (prepare_url then gives
    the same URL as with ``{}``, without encoding nothing)."""
    if not request_setting and not session_setting:
        return None
    return merge_setting(request_setting or {}, session_setting)


_URLS: dict = {}


def _prepared_url(url):
    """``PreparedRequest.prepare_url(url, None)``, memoized (bounded) per URL string."""
    prepared = _URLS.get(url)
    if prepared is None:
        p = PreparedRequest()
        p.prepare_url(url, None)
        prepared = p.url
        if len(_URLS) >= 4096:
            _URLS.clear()
        _URLS[url] = prepared
    return prepared


def _body_bytes(prep):
    """The body as bytes; None when requests would send no ``Content-Length`` at all."""
    body = prep.body
    if body is None:
        return b"" if prep.headers.get("Content-Length") == "0" else None
    if isinstance(body, str):
        return body.encode("utf-8")  # urllib3 2 sends str bodies as UTF-8
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else data
    return b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in body)


def _read_timeout(timeout):
    """The read timeout as requests formats it in ``Read timed out. (read timeout=...)``."""
    if isinstance(timeout, tuple):
        return timeout[1]
    return timeout


def __getattr__(name):
    """Names of ``locust.clients`` the front does not provide fail by name on import."""
    if name == "LocustHttpAdapter":
        raise unsupported("locust.clients.LocustHttpAdapter (the engine has no transport adapters)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
