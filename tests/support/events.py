"""Fixtures of the events tests: a subscriber on loopback that records what it receives, and subscriptions."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import pytest

from accounts.events import services as event_services
from accounts.models import Application

PORTS = range(9800, 9900)  # any free loopback port works; this range keeps clear of other servers


def bind(server_class, handler) -> ThreadingHTTPServer:
    """Return a server bound to the first free loopback port of PORTS."""
    for port in PORTS:
        try:
            return server_class(("127.0.0.1", port), handler)
        except OSError:
            continue
    raise RuntimeError("no free port in 9800-9899")


@dataclass
class Received:
    """One request a subscriber received."""

    headers: dict
    body: bytes
    at: float


@dataclass
class Subscriber:
    """A loopback HTTP server answering `status` (after `delay` seconds, with `headers`) and recording requests."""

    server: ThreadingHTTPServer
    status: int = 200
    delay: float = 0.0
    headers: dict = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Return the subscriber's URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def _handler(subscriber_ref: list):
    """Return a request handler class that answers as the subscriber says."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            subscriber = subscriber_ref[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            subscriber.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body, time.time()))
            time.sleep(subscriber.delay)
            self.send_response(subscriber.status)
            for name, value in subscriber.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def subscriber_start() -> Subscriber:
    """Start a subscriber in a daemon thread."""
    ref: list = []
    server = bind(ThreadingHTTPServer, _handler(ref))
    subscriber = Subscriber(server=server)
    ref.append(subscriber)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return subscriber


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingWSGIServer(ThreadingHTTPServer, WSGIServer):
    """wsgiref's server, one thread per request."""


def wsgi_start(app) -> tuple[str, ThreadingHTTPServer]:
    """Serve a WSGI app on loopback in a daemon thread; return its base URL and the server."""
    server = bind(_ThreadingWSGIServer, _QuietHandler)
    server.set_app(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture
def events_settings(settings):
    """Let deliveries go to loopback over http://, and retry at once in tests."""
    settings.PORTAL_EVENTS_ALLOW_HTTP_LOOPBACK = True
    settings.PORTAL_EVENTS_BACKOFF_SECONDS = 1
    settings.PORTAL_EVENTS_CONNECT_TIMEOUT = 1
    settings.PORTAL_EVENTS_READ_TIMEOUT = 1
    settings.PORTAL_EVENTS_SENDERS = 4
    return settings


@pytest.fixture
def subscriber(events_settings):
    """A subscriber on loopback answering 200 until told otherwise."""
    started = subscriber_start()
    yield started
    started.server.shutdown()
    started.server.server_close()


@pytest.fixture
def subscribe(admin_user, events_settings):
    """Subscribe an application to events: subscribe(url, application='billing', types=(), format=...)."""

    def make(url: str, application: str = "billing", types=(), format: str = "webhook"):
        Application.objects.get(name=application)
        return event_services.subscription_create(
            actor=admin_user, application=application, url=url, types=list(types), format=format
        )

    return make
