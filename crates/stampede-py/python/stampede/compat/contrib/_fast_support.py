"""The parts of geventhttpclient that ``FastHttpSession`` reproduces without using it.

FastHttpUser's requests are sent by the engine, but what reaches the server and what a
locustfile sees must be what geventhttpclient 2.6 would produce: its ``Headers`` multimap,
its exception classes (whose ``repr`` is the failure key in the statistics), its query-string
and multipart encoders. geventhttpclient's own classes are used when it is installed, so that
``except geventhttpclient...`` in a locustfile still catches them; otherwise identical copies.
The encoders are copies either way (geventhttpclient is MIT-licensed; the originals are in
``geventhttpclient/url.py`` and ``geventhttpclient/useragent.py``).
"""

from __future__ import annotations

import binascii
import http.client
import os
import re
from collections.abc import Mapping
from urllib import parse as urlparse

from requests.utils import requote_uri

try:  # the real classes, when geventhttpclient is installed (Locust's venv has it)
    from geventhttpclient._parser import HTTPParseError
    from geventhttpclient.response import HTTPConnectionClosed
    from geventhttpclient.useragent import ConnectionError, RetriesExceeded
except ImportError:

    class HTTPParseError(http.client.HTTPException):
        pass

    class HTTPConnectionClosed(HTTPParseError):
        pass

    class ConnectionError(Exception):  # noqa: A001 - geventhttpclient's name
        """geventhttpclient's ``useragent.ConnectionError``, same ``str`` and ``repr``."""

        def __init__(self, url, *args, **kw):
            self.url = url
            self.__dict__.update(kw)
            if args and isinstance(args[0], str):
                self.text = args[0] if len(args) == 1 else args[0] + ": " + str(args[1:])
            else:
                self.text = str(args[0]) if len(args) == 1 else ""
            if kw:
                self.text += ", " if self.text else ""
                self.kw_text = ", ".join(f"{key}={val}" for key, val in kw.items())
                self.text += self.kw_text
            else:
                self.kw_text = ""

        def __str__(self):
            return f"URL {self.url}: {self.text}" if self.text else f"URL {self.url}"

        def __repr__(self):
            repr_str = super().__repr__()
            if self.kw_text:
                return repr_str.replace(")", f", {self.kw_text})")
            return repr_str

    class RetriesExceeded(ConnectionError):
        pass


try:
    from importlib.metadata import version as _version

    USER_AGENT = "python/gevent-http-client-" + _version("geventhttpclient")
except Exception:  # noqa: BLE001 - not installed: the version Locust 2.47 was checked with
    USER_AGENT = "python/gevent-http-client-2.6.1"


class FastHeaders(dict):
    """geventhttpclient's ``Headers``: case-insensitive, repeated fields kept.

    Stored as geventhttpclient stores them: lowercased name -> (name, value), or a list of
    such pairs for a repeated field. ``h[name]`` is the value, or the list of values.
    """

    def __init__(self, pairs=()):
        dict.__init__(self)
        for k, v in pairs.items() if isinstance(pairs, Mapping) else pairs:
            self.add(k, v)

    def add(self, field, value):
        low = field.lower()
        old = dict.get(self, low)
        if old is None:
            dict.__setitem__(self, low, (field, value))
        elif isinstance(old, tuple):
            dict.__setitem__(self, low, [old, (field, value)])
        else:
            old.append((field, value))

    def __setitem__(self, field, value):
        dict.__setitem__(self, field.lower(), (field, value))

    def __getitem__(self, field):
        vals = dict.__getitem__(self, field.lower())
        return vals[1] if isinstance(vals, tuple) else [v[1] for v in vals]

    def __delitem__(self, field):
        dict.__delitem__(self, field.lower())

    def __contains__(self, field):
        return dict.__contains__(self, field.lower())

    def get(self, field, default=None):
        try:
            return self[field]
        except KeyError:
            return default

    def getlist(self, field):
        vals = dict.get(self, field.lower())
        if vals is None:
            return []
        return [vals[1]] if isinstance(vals, tuple) else [v[1] for v in vals]

    getheaders = getallmatchingheaders = getlist

    def get_all(self, field, failobj=None):
        return self.getlist(field) or failobj

    def discard(self, field):
        self.pop(field, None)

    def pop(self, field, *default):
        try:
            value = self[field]
        except KeyError:
            if default:
                return default[0]
            raise
        del self[field]
        return value

    def items(self):
        """Every header line, repeats included, with the name as received."""
        for vals in dict.values(self):
            if isinstance(vals, tuple):
                yield vals
            else:
                yield from vals

    def values(self):
        return [self[k] for k in self]

    def itermerged(self):
        for vals in dict.values(self):
            yield vals if isinstance(vals, tuple) else (vals[0][0], ", ".join(v[1] for v in vals))

    def compatible_dict(self):
        return dict(self.itermerged())

    def copy(self):
        clone = FastHeaders()
        for k, v in dict.items(self):
            dict.__setitem__(clone, k, list(v) if isinstance(v, list) else v)
        return clone

    def __len__(self):
        return sum(1 if isinstance(v, tuple) else len(v) for v in dict.values(self))

    def __repr__(self):
        return f"Headers({self.compatible_dict()})"


# --- encoders (copies of geventhttpclient's) -------------------------------------------------


def to_key_val_list(value):
    if value is None:
        return None
    if isinstance(value, (str, bytes, bool, int)):
        raise ValueError("cannot encode objects that are not 2-tuples")
    if isinstance(value, Mapping):
        value = value.items()
    return list(value)


def encode_params(data):
    """A query string from a mapping or pairs (``url._encode_params``): ``+`` for spaces,
    lists repeat the key, None values dropped."""
    if isinstance(data, (str, bytes)) or data is None or not hasattr(data, "__iter__"):
        return data
    result = []
    for k, vs in to_key_val_list(data):
        if isinstance(vs, (str, bytes)) or not hasattr(vs, "__iter__"):
            vs = [vs]
        for v in vs:
            if v is not None:
                result.append((k.encode("utf-8") if isinstance(k, str) else k,
                               v.encode("utf-8") if isinstance(v, str) else v))
    return urlparse.urlencode(result, doseq=True)


#: A URL that ``quoted_uri`` leaves as it is: no params to add, nothing to (re)quote, no
#: fragment, no empty query or parameters for ``urlparse`` to drop.
_PLAIN_URL = re.compile(r"https?://[^/?#;%\s]+(/[A-Za-z0-9\-._~/:@!$&'()*+,=]*)?(\?[A-Za-z0-9\-._~/:@!$&'()*+,=?]+)?")


def request_url(url, params):
    """The absolute URL as sent: ``URL(url, params)`` with its request URI requoted
    (``quoted_uri``), as ``UserAgent._urlopen`` sends it."""
    if params is None and _PLAIN_URL.fullmatch(url):
        return url
    parsed = urlparse.urlparse(url)
    scheme, netloc, path, p_params, query, fragment = parsed
    if params is not None:
        new = encode_params(params)
        query = query + "&" + new if query else new
    uri = path + (";" + p_params if p_params else "") + ("?" + query if query else "")
    return f"{scheme}://{netloc}{requote_uri(uri)}"


def _guess_filename(file):
    name = getattr(file, "name", None)
    if not name or not isinstance(name, (str, bytes)):
        return None
    if isinstance(name, bytes):
        name = name.decode()
    if name[0] != "<" and name[-1] != ">":
        return os.path.basename(name)
    return None


def _part(boundary, name, data, filename=None, content_type=None, extra_headers=None):
    disposition = f'Content-Disposition: form-data; name="{str(name).replace(chr(34), "%22")}"'
    if filename is not None:
        disposition += f'; filename="{str(filename).replace(chr(34), "%22")}"'
    lines = [disposition.encode()]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}".encode())
    for key, value in to_key_val_list(extra_headers or {}):
        lines.append(f"{key}: {value}".encode())
    if isinstance(data, str):
        data = data.encode("utf-8")
    return b"".join((b"--", boundary, b"\r\n", b"\r\n".join(lines), b"\r\n\r\n", bytes(data), b"\r\n"))


def encode_multipart(files, data):
    """(body, content type) for ``files=`` (``useragent._encode_multipart_formdata``)."""
    if not files:
        raise ValueError("Files must be provided.")
    if isinstance(data, (str, bytes)):
        raise ValueError("Data must not be a string.")
    file_items = to_key_val_list(files or {})
    boundary = next((item[4] for _, item in file_items if isinstance(item, (tuple, list)) and len(item) >= 5), None)
    if boundary is None:
        boundary = binascii.hexlify(os.urandom(16)).decode("ascii")
    b = boundary.encode("ascii")
    parts = []
    for field, val in to_key_val_list(data or {}):
        if isinstance(val, (str, bytes)) or not hasattr(val, "__iter__"):
            val = [val]
        for v in val:
            if v is not None:
                field = field.decode("utf-8") if isinstance(field, bytes) else field
                parts.append(_part(b, field, v if isinstance(v, bytes) else str(v)))
    for k, v in file_items:
        parts.extend(_file_part(b, k, v))
    return b"".join(parts) + b"--%s--\r\n" % b, f"multipart/form-data; boundary={boundary}"


def _file_part(boundary, k, v):
    """One ``files=`` entry as a part: a file object, or (filename, file[, type[, headers
    [, boundary]]])."""
    ft = fh = None
    if isinstance(v, (tuple, list)):
        if not 2 <= len(v) <= 5:
            raise ValueError(f"a file must be given as 2 to 5 values, not {len(v)}")
        fn, fp, ft, fh = (tuple(v) + (None, None))[:4]
    else:
        fn, fp = _guess_filename(v) or k, v
    if isinstance(fp, (str, bytes, bytearray)):
        fdata = fp
    elif hasattr(fp, "read"):
        fdata = fp.read()
    elif fp is None:
        return []
    else:
        fdata = fp
    name = k.decode("utf-8") if isinstance(k, bytes) else k
    return [_part(boundary, name, fdata, filename=fn, content_type=ft, extra_headers=fh)]


def _failure_exceptions():
    """Locust's ``FAILURE_EXCEPTIONS`` (``fasthttp.py:73-83``): what geventhttpclient raises
    for a failed request, each of which Locust reports as a failure."""
    import socket
    import zlib
    from ssl import SSLError

    from gevent.timeout import Timeout

    return (
        ConnectionError,
        ConnectionRefusedError,
        ConnectionResetError,
        socket.error,
        SSLError,
        Timeout,
        HTTPConnectionClosed,
        HTTPParseError,
        zlib.error,
    )


FAILURE_EXCEPTIONS = _failure_exceptions()
