"""The seam between the Python sessions and the Rust engine.

A locustfile's sessions (``HttpSession``, ``FastHttpSession``) never open sockets. They build
the request the way requests / geventhttpclient would (absolute URL, every header, the body
bytes) and hand it to a ``Transport``, which the engine provides: one per user (plus one per
session built by hand). ``Transport.request`` parks the calling greenlet only; other greenlets
run while the engine does the I/O on its own threads.

The engine does not decide success or failure for these requests, nor record them: the session
does, with Locust's rules and texts, and then calls ``Transport.record`` exactly once per
``request`` (a request whose verdict is never given, as when an exception escapes a
``catch_response`` block, is never recorded, as in Locust).

``stampede._fake_transport.FakeTransport`` is a pure-Python stand-in (``http.client`` and a
requests cookie jar) for tests of the Python layer without the engine.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

Headers = List[Tuple[str, str]]

#: Values of ``Raw.error_kind``.
#: "closed" is a connection closed (FIN) before a response, "reset" one reset (RST): requests
#: reports them differently. "redirects" is more redirects than ``max_redirects`` (requests'
#: ``TooManyRedirects``).
ERROR_KINDS = ("refused", "closed", "reset", "parse", "timeout", "dns", "redirects", "other")


class Raw:
    """What the engine hands back for one request. Values are those of the final hop."""

    __slots__ = (
        "status",  # int; 0 when there was no response
        "reason",  # str; the status line's reason phrase as the server sent it (Latin-1)
        "url",  # str; the final URL, after redirects (on an error: the URL of the hop that failed)
        "headers",  # Headers; the final response's headers, in order, repeats kept
        "body",  # bytes; decoded of any Content-Encoding, as requests does
        "elapsed",  # float; seconds: the response time the engine measured and will record
        "history",  # list of (status, url, Headers) for each redirect hop before the final; url is
        # the URL that hop requested (what requests calls that hop's ``resp.url``)
        "error_kind",  # None or one of ERROR_KINDS
        "error",  # None or the engine's own text for the error; for "parse", the offending
        # status line as received (Latin-1), which requests' BadStatusLine shows
        "request_headers",  # Headers; as sent on the first hop (Host, Cookie included)
        "content_length",  # int; bytes of body received (what Locust calls response_length)
        "ticket",  # engine bookkeeping; pass the Raw back to record()
        "recorded",  # the engine recorded this success itself (``auto``); record() is then a no-op
    )

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


class Transport:
    """One user's way out. Implemented in Rust (``stampede._core``) for real runs."""

    def request(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: Optional[bytes],
        *,
        allow_redirects: bool = True,
        max_redirects: int = 30,
        timeout: Optional[float] = None,
        insecure: bool = False,
        connect_timeout: Optional[float] = None,
        name: Optional[str] = None,
    ) -> Raw:
        """Sends one request and follows redirects (as the session asks).

        ``url`` is absolute. ``headers`` are every header to send, in order, besides ``Host``,
        ``Content-Length`` and ``Cookie``: the engine adds those (Cookie from the user's jar,
        merged with a ``Cookie`` header given here). A redirect is followed as requests does
        (303, and 301/302 on POST, become GET without a body). Never raises for a network
        error: ``error_kind`` says what went wrong.

        ``body`` None sends no ``Content-Length``; ``b""`` sends ``Content-Length: 0`` (the
        sessions pass whichever their library would send). ``timeout`` limits each read, as
        requests' and geventhttpclient's socket timeouts do; ``connect_timeout``, when given,
        limits the connect instead (requests' ``(connect, read)`` tuple, FastHttpUser's
        ``connection_timeout``). ``name`` is the stats name the session expects to report the
        request under (the engine may label a request that is never reported with it).
        """
        raise NotImplementedError

    def record(self, raw: Raw, method: str, name: str, error: Optional[str], response_length: int) -> None:
        """Counts the request in the statistics under ``method``/``name``; ``error`` is the
        failure's key text (Locust's ``StatsError.parse_error``: a repr, ``0x..`` blanked),
        or None for a success. The response time is ``raw.elapsed``."""
        raise NotImplementedError

    def record_event(self, method: str, name: str, response_time_ms: float, response_length: int, error: Optional[str]) -> None:
        """Counts a request that user code reported itself (``events.request.fire`` from a
        custom client)."""
        raise NotImplementedError

    # The user's cookie jar (the engine's). Cookies are (name, value, domain, path).
    def cookies(self) -> List[Tuple[str, str, str, str]]:
        raise NotImplementedError

    def set_cookie(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        raise NotImplementedError

    def remove_cookie(self, name: str, domain: Optional[str] = None, path: Optional[str] = None) -> None:
        raise NotImplementedError

    def clear_cookies(self) -> None:
        raise NotImplementedError

    def new_session(self) -> "Transport":
        """A second transport for the same user with its own, empty jar and connections
        (``HttpSession(...)`` built by hand)."""
        raise NotImplementedError
