"""The user's cookie jar, seen from Python as the jar Locust's sessions expose.

The jar lives in the engine (``Transport.cookies`` and friends), so that Rust sends the right
``Cookie`` header without asking Python. Locustfiles still read and write it through
``self.client.cookies`` (a requests ``RequestsCookieJar``) or ``self.client.cookiejar`` (an
``http.cookiejar.CookieJar``). ``TransportCookieJar`` is a ``RequestsCookieJar`` (so it is a
``CookieJar`` too, and ``isinstance`` checks and requests' helpers such as
``dict_from_cookiejar`` work) whose storage is the transport: iteration reads the engine's
cookies, and every write goes back to it. All of requests' read API (``get``, ``[]``, ``in``,
``keys``, ``values``, ``items``, ``get_dict``, ``list_domains``...) is built on iteration, so
it works unchanged.
"""

from __future__ import annotations

from requests.cookies import RequestsCookieJar, create_cookie


class TransportCookieJar(RequestsCookieJar):
    """A ``RequestsCookieJar`` whose cookies are the transport's (name, value, domain, path)."""

    def __init__(self, transport):
        super().__init__()
        self._transport = transport

    def __iter__(self):
        for name, value, domain, path in self._transport.cookies():
            yield create_cookie(name, value, domain=domain, path=path)

    def set_cookie(self, cookie, *args, **kwargs):
        """Stores ``cookie`` in the engine's jar (quotes stripped as requests does). Only the
        name, value, domain and path are kept: the engine's jar has no other attributes."""
        value = cookie.value
        if hasattr(value, "startswith") and value.startswith('"') and value.endswith('"'):
            value = value.replace('\\"', "")
        self._transport.set_cookie(cookie.name, value, cookie.domain or "", cookie.path or "/")

    def clear(self, domain=None, path=None, name=None):
        """``CookieJar.clear``: everything, a domain, a domain's path, or one cookie."""
        if domain is None and path is None and name is None:
            self._transport.clear_cookies()
            return
        if name is not None and (domain is None or path is None):
            raise ValueError("domain and path must be given to remove a cookie by name")
        matches = [
            c for c in self._transport.cookies()
            if c[2] == domain and path in (None, c[3]) and name in (None, c[0])
        ]
        if not matches:
            raise KeyError(name or path or domain)
        for c_name, _, c_domain, c_path in matches:
            self._transport.remove_cookie(c_name, c_domain, c_path)

    def clear_session_cookies(self):
        """No-op: the engine's jar keeps no expiry, so no cookie is a "session" one."""

    def clear_expired_cookies(self):
        """No-op: the engine drops expired cookies itself."""

    def copy(self):
        """A detached ``RequestsCookieJar`` holding a snapshot of the cookies."""
        new_cj = RequestsCookieJar()
        new_cj.update(self)
        return new_cj

    def __getstate__(self):
        raise TypeError("the session's cookie jar lives in the engine; use .copy() for a snapshot")
