"""``FastHttpSession``'s responses: Locust's ``FastResponse`` family over the engine's ``Raw``.

FastHttpUser is the path the front's speed is measured on, so a response here is a slotted
object holding the ``Raw`` and computing everything else (headers, text, JSON) only when
asked. The behaviour copied is Locust 2.47's ``contrib/fasthttp.py:462-759`` on top of
geventhttpclient's ``CompatResponse``: ``status_code`` 0 without an answer, ``ok`` as
``status_code < 400`` (so an unanswered request is "ok"), ``text`` decoded by the headers'
charset else by detection, ``raise_for_status()`` raising only the stored error.
"""

from __future__ import annotations

import datetime
import json

from requests.utils import get_encoding_from_headers

from .._session_common import CatchResponse, report
from ..exception import LocustError
from ._fast_support import FAILURE_EXCEPTIONS, FastHeaders

_PLAIN = (
    "If you want to change the state of the request, you must pass catch_response=True. "
    "See http://docs.locust.io/en/stable/writing-a-locustfile.html#validating-responses"
)


class FastRequest:
    """The request a response answers: geventhttpclient's ``CompatRequest``, reduced to what
    locustfiles read (``method``, ``url``, ``headers``, ``payload``/``body``)."""

    __slots__ = ("method", "url", "headers", "payload")

    def __init__(self, method, url, headers, payload):
        self.method = method
        self.url = url
        self.headers = headers
        self.payload = payload

    @property
    def body(self):
        return self.payload

    data = body

    @property
    def full_url(self):
        return self.url

    def get_full_url(self):
        return self.url


class _Hop:
    """One redirect response of ``history`` (status, headers and the URL it answered)."""

    __slots__ = ("status_code", "headers", "url")

    def __init__(self, status, url, headers):
        self.status_code = status
        self.url = url
        self.headers = FastHeaders(headers)


class FastResponse:
    """A response of ``FastHttpSession``. ``_resp`` is the engine's ``Raw`` when the request
    was answered (None otherwise); ``_sent`` is the ``Raw`` to report either way."""

    __slots__ = ("_resp", "_sent", "request", "_headers", "encoding", "error", "_url", "_consumed", "__dict__")

    def __init__(self, raw, request, url, stream=False):
        self._resp = raw
        self._sent = raw
        self.request = request
        self._headers = None
        self.encoding = None
        self.error = None
        self._url = url
        self._consumed = not stream

    @property
    def headers(self):
        """geventhttpclient's ``Headers`` of the final response (None without an answer)."""
        h = self._headers
        if h is None and self._resp is not None:
            h = self._headers = FastHeaders(self._resp.headers)
        return h

    @headers.setter
    def headers(self, value):
        self._headers = value

    @property
    def status_code(self) -> int:
        return self._resp.status if self._resp is not None else 0

    @property
    def ok(self):
        return self.status_code < 400

    @property
    def content(self):
        """The body, decoded of any Content-Encoding; None without an answer."""
        if self._resp is None:
            return None
        self._consumed = True
        return self._resp.body

    @property
    def text(self):
        """The body decoded as Locust's ``FastResponse.text`` does (``fasthttp.py:491-509``)."""
        content = self.content
        if content is None:
            return None
        if self.encoding is None:
            self.encoding = get_encoding_from_headers(self.headers) if self.headers is not None else None
            if not self.encoding:
                from charset_normalizer import detect

                self.encoding = detect(content)["encoding"]
        if self.encoding is None:
            return None
        return str(content, str(self.encoding), errors="replace")

    @property
    def url(self):
        """The request's URL: as requested, or the last one after redirects."""
        return self._url

    @property
    def elapsed(self):
        return datetime.timedelta(seconds=self._resp.elapsed) if self._resp is not None else None

    @property
    def history(self):
        """The redirect responses before this one; empty when the request failed, since
        geventhttpclient keeps the chain only on a response it returns without error."""
        if self._resp is None or self.error is not None:
            return []
        return [_Hop(*hop) for hop in self._resp.history]

    def json(self):
        return json.loads(self.text)

    def raise_for_status(self):
        """Raise any connection errors that occurred during the request"""
        if error := getattr(self, "error", None):
            raise error

    def iter_content(self, chunk_size=1024, decode_content=True):
        """``requests``-style streaming; like Locust, yields nothing once the body was read."""
        if self._resp is None:
            raise LocustError("Cannot iterate content on a response without _response attribute")
        if self._consumed:
            return
        self._consumed = True
        body = self._resp.body
        for i in range(0, len(body), chunk_size):
            chunk = body[i : i + chunk_size]
            if decode_content:
                try:
                    chunk = chunk.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            yield chunk

    def info(self):
        return self.headers

    def release(self):
        """Nothing to release: the engine owns the connection."""

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.release()

    def success(self):
        raise LocustError(_PLAIN)

    def failure(self, *_args, **_kwargs):
        raise LocustError(_PLAIN)


class ErrorResponse(FastResponse):
    """The response of a request that got no answer: ``status_code`` 0, ``content``,
    ``text`` and ``headers`` None, and ``raise_for_status()`` raising the error."""

    __slots__ = ()

    def __init__(self, request, error, raw=None):
        FastResponse.__init__(self, None, request, request.url)
        self.error = error
        self._sent = raw

    def raise_for_status(self):
        raise self.error


_COPIED = FastResponse.__slots__[:-1]


class ResponseContextManager(CatchResponse, FastResponse):
    """A response usable as ``with ... as response:`` to mark the request a success or a
    failure (Locust's ``fasthttp.ResponseContextManager``, ``fasthttp.py:648-753``)."""

    __slots__ = ("_request_event", "request_meta", "_catch_response", "_manual_result", "_entered", "_transport")

    def __init__(self, response, request_event, request_meta, catch_response):
        for name in _COPIED:
            setattr(self, name, getattr(response, name))
        self.__dict__.update(response.__dict__)
        self._request_event = request_event
        self.request_meta = request_meta
        self._catch_response = catch_response
        self._manual_result = None
        self._entered = False
        self._transport = None

    def _default_verdict(self):
        try:
            self.raise_for_status()
        except FAILURE_EXCEPTIONS as e:
            self.request_meta["exception"] = e
        self._report_request()

    def _report_request(self):
        if self._transport is None:  # built by hand, outside a session: an ordinary event
            self._request_event.fire(**self.request_meta)
        else:
            report(self._request_event, self._transport, self._sent, self.request_meta)

    def raise_for_status(self):
        """Raise any connection errors that occurred during the request"""
        if not self._manual_result:
            super().raise_for_status()
        elif isinstance(self._manual_result, Exception):
            raise self._manual_result


class RestResponseContextManager(ResponseContextManager):
    __slots__ = ()
    js: dict
