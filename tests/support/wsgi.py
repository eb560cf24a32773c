"""Call portal/wsgi.py's application as gunicorn does, within a test's database transaction."""

import io
import json
import sys
from dataclasses import dataclass

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from portal import wsgi


@dataclass
class Served:
    """A response of the WSGI application, read as tests read Django's test responses."""

    status_code: int
    headers: dict
    content: bytes

    def __getitem__(self, name: str) -> str:
        """Return a response header."""
        return self.headers[name]

    def json(self):
        """Return the JSON body."""
        return json.loads(self.content)


def served(path: str, *, method: str = "GET", body: bytes = b"", host: str = "127.0.0.1", **headers) -> Served:
    """Call the WSGI application with a request (headers as keyword arguments, `HTTP_` added); return its response."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    # As Django's test client does: the request must not close the test's database connection when it ends.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        content = b"".join(wsgi.application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return Served(answer["status"], answer["headers"], content)
