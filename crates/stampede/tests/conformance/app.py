"""The conformance suite's tiny site, as a WSGI app (gunicorn) and an ASGI app (uvicorn).

Pages: / (a page), /redirect (302 to /landing), /landing, /form (GET a form, POST it).
Every request is appended to the file named by CONFORMANCE_LOG as
"METHOD PATH STATUS MILLISECONDS", the reference count the suite compares with.
"""
import os
import time

LOG = os.environ.get("CONFORMANCE_LOG", "/dev/null")
PAGE = b"<html><body><h1>Conformance</h1><a href='/form'>form</a></body></html>"
FORM = b"<html><body><form method='post'><input name='name'></form></body></html>"


def route(method, path):
    """(status, extra headers, body) for a request."""
    if path == "/":
        return "200 OK", [], PAGE
    if path == "/redirect":
        return "302 Found", [("Location", "/landing")], b""
    if path == "/landing":
        return "200 OK", [], b"<html><body>landed</body></html>"
    if path == "/form":
        return "200 OK", [], (b"posted" if method == "POST" else FORM)
    return "404 Not Found", [], b"not found"


def log(method, path, status, started):
    line = f"{method} {path} {status.split()[0]} {(time.monotonic() - started) * 1000:.3f}\n"
    with open(LOG, "a") as f:
        f.write(line)


def wsgi_app(environ, start_response):
    started = time.monotonic()
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    status, headers, body = route(method, path)
    headers = headers + [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    log(method, path, status, started)
    return [body]


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    started = time.monotonic()
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    status, headers, body = route(scope["method"], scope["path"])
    raw = [(k.lower().encode(), v.encode()) for k, v in headers]
    raw += [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": int(status.split()[0]), "headers": raw})
    await send({"type": "http.response.body", "body": body})
    log(scope["method"], scope["path"], status, started)
