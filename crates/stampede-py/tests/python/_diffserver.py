"""A loopback HTTP/1.1 server for the differential tests of the sessions.

Written on raw sockets rather than ``http.server`` because several routes must misbehave in
ways a framework refuses to: a reason phrase of our choosing, a connection closed without an
answer, a status line that is not HTTP. Every response closes the connection, so neither
client under test can reuse a connection that the server has already given up on.

``/echo`` (and any path under ``/api/``) answers with what the server received, as JSON, so a
test compares what two clients *sent* by comparing what they got back.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import socket
import socketserver
import struct
import threading
import time
import zlib
from urllib.parse import parse_qs, urlsplit


def _read_request(rfile):
    """Parses one request: (method, target, [(name, value)], body)."""
    line = rfile.readline(65537).decode("latin-1")
    if not line:
        return None
    method, target, _ = line.rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        h = rfile.readline(65537).decode("latin-1").rstrip("\r\n")
        if not h:
            break
        name, _, value = h.partition(":")
        headers.append((name, value.strip()))
    lower = {k.lower(): v for k, v in headers}
    if lower.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(rfile.readline().strip(), 16)
            chunk = rfile.read(size + 2)[:size]
            if size == 0:
                break
            body += chunk
    else:
        body = rfile.read(int(lower.get("content-length", "0")))
    return method, target, headers, body


def _response(status, reason, headers=(), body=b""):
    head = f"HTTP/1.1 {status} {reason}\r\n"
    all_headers = list(headers) + [("Content-Length", str(len(body))), ("Connection", "close")]
    head += "".join(f"{k}: {v}\r\n" for k, v in all_headers) + "\r\n"
    return head.encode("latin-1") + body


def _echo(method, target, headers, body):
    # a multipart boundary is random: blank it, so that two clients' echoes compare equal
    m = re.search(r"boundary=([0-9a-fA-F]+)", dict((k.lower(), v) for k, v in headers).get("content-type", ""))
    if m:
        headers = [(k, v.replace(m.group(1), "BOUNDARY")) for k, v in headers]
        body = body.replace(m.group(1).encode(), b"BOUNDARY")
    data = {
        "method": method,
        "target": target,
        # lowercased and sorted: neither the case nor the order of header names means anything
        # in HTTP, and the clients compared here differ in both
        "headers": sorted([[k.lower(), v] for k, v in headers]),
        "body": base64.b64encode(body).decode(),
    }
    return _response(200, "OK", [("Content-Type", "application/json")], json.dumps(data).encode())


REDIRECTS = {
    "/r301": (301, "/echo"),
    "/r302": (302, "/final?x=1"),
    "/r303": (303, "/echo"),
    "/r307": (307, "/echo"),
    "/r308": (308, "/echo"),
    "/redir404": (302, "/404"),
    "/redir_abs": (302, None),  # absolute Location to this server's /echo
    "/redir_rel": (302, "echo?rel=1"),
    "/redir_refused": (302, "REFUSED"),
}

FIXED = {
    "/ok": (200, "OK", [("Content-Type", "text/plain; charset=utf-8")], b"hello"),
    "/final": (200, "OK", [("Content-Type", "text/plain")], b"final"),
    "/404": (404, "Not Found", [("Content-Type", "text/html")], b"<h1>nope</h1>"),
    "/500": (500, "Internal Server Error", [], b"boom"),
    "/custom": (404, "Nope Here", [], b"custom"),
    "/418": (418, "I'm a Teapot", [], b"teapot"),
    "/300": (300, "Multiple Choices", [], b"choices"),
    "/210": (210, "Whatever", [], b"210 body"),
    "/302noloc": (302, "Found", [], b"no location"),
    "/json": (200, "OK", [("Content-Type", "application/json")], b'{"a": 1, "b": [1, 2]}'),
    "/badjson": (200, "OK", [("Content-Type", "application/json")], b"not json at all"),
    "/latin": (200, "OK", [("Content-Type", "text/html")], "caf\u00e9".encode("latin-1")),
    "/noctype": (200, "OK", [], b"plain bytes"),
    "/empty": (200, "OK", [], b""),
    "/204": (204, "No Content", [], b""),
    "/600": (600, "Strange", [], b"six hundred"),
    "/401": (401, "Unauthorized", [("WWW-Authenticate", 'Basic realm="x"')], b""),
}


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            req = _read_request(self.rfile)
        except (ValueError, OSError):
            return
        if req is None:
            return
        self.server.log.append(req)
        out = self.server.route(*req)
        if out == b"RESET":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # now, before socketserver's shutdown(SHUT_WR) sends a FIN
            return
        if out:
            try:
                self.wfile.write(out)
            except OSError:
                pass


class DiffServer(socketserver.ThreadingTCPServer):
    """The server; ``url`` is its base URL, ``refused_url`` a port nobody listens on."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.log = []
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.refused_url = f"http://127.0.0.1:{s.getsockname()[1]}"
        s.close()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def route(self, method, target, headers, body):
        """Answers one request; None means "close without answering"."""
        path = urlsplit(target).path
        query = parse_qs(urlsplit(target).query)
        if path == "/echo" or path.startswith("/api/") or path == "/final_echo":
            return _echo(method, target, headers, body)
        if path in FIXED:
            status, reason, hdrs, payload = FIXED[path]
            return _response(status, reason, hdrs, b"" if method == "HEAD" else payload)
        if path in REDIRECTS:
            return self._redirect(path, headers)
        return self._special(method, path, query, headers, body)

    def _redirect(self, path, headers):
        status, location = REDIRECTS[path]
        if location is None:
            location = self.url + "/echo?abs=1"
        elif location == "REFUSED":
            location = self.refused_url + "/gone"
        return _response(status, "Moved", [("Location", location)], b"moving")

    def _special(self, method, path, query, headers, body):
        if path == "/setcookie":
            return _response(
                200, "OK", [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=two; Path=/")], b"cookies"
            )
        if path == "/redir_setcookie":
            return _response(302, "Found", [("Set-Cookie", "r=3; Path=/"), ("Location", "/echo")], b"")
        if path == "/delcookie":
            return _response(200, "OK", [("Set-Cookie", "a=; Path=/; Max-Age=0")], b"deleted")
        if path == "/gzip":
            return _response(200, "OK", [("Content-Encoding", "gzip"), ("Content-Type", "text/plain")],
                             gzip.compress(b"zipped text " * 20))
        if path == "/deflate":
            return _response(200, "OK", [("Content-Encoding", "deflate"), ("Content-Type", "text/plain")],
                             zlib.compress(b"deflated text " * 20))
        if path == "/slow":
            time.sleep(float(query.get("s", ["2"])[0]))
            return _response(200, "OK", [], b"slow")
        if path == "/close":
            return None
        if path == "/reset":  # close with an RST: SO_LINGER on, timeout 0
            return b"RESET"
        if path == "/garbage":
            return b"HELLO\r\n"
        if path == "/loop":
            n = int(query.get("n", ["0"])[0])
            return _response(302, "Found", [("Location", f"/loop?n={n + 1}")], b"")
        if path == "/chain":
            n = int(query.get("n", ["0"])[0])
            if n >= 3:
                return _response(200, "OK", [], b"chain end")
            return _response(302, "Found", [("Location", f"/chain?n={n + 1}")], b"")
        return _response(404, "Not Found", [], b"unknown route")
