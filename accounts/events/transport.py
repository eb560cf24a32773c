"""Sending one delivery over HTTP, safely: the address checked, then connected to; no redirect followed.

The host is resolved at send time and every address it resolves to must be public (loopback too, when
PORTAL_EVENTS_ALLOW_HTTP_LOOPBACK allows it); the connection is then made to the checked address itself,
so a DNS answer that changes between the check and the connection (DNS rebinding) cannot reach inside.
A redirect is an answer like any other: it is not followed, and counts as a failure.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

PRIVATE_ADDRESS = "{host} resolves to {address}, a private, loopback or link-local address: not sent."
NOT_RESOLVED = "{host} could not be resolved."
BAD_URL = "The endpoint must be https://host[:port]/path (http:// only to loopback, when the portal allows it)."
MAX_ANSWER = 64 * 1024  # what is read of a subscriber's answer


class Refused(Exception):
    """The endpoint may not be reached (its URL or address); the message says why."""


@dataclass(frozen=True)
class Answer:
    """A subscriber's answer: its status code, the start of its body, and how long the round trip took."""

    status: int
    body: bytes
    latency_ms: int


def loopback_allowed() -> bool:
    """Return True when http:// and loopback subscribers are allowed (development, tests)."""
    return settings.PORTAL_EVENTS_ALLOW_HTTP_LOOPBACK


def url_problem(url: str) -> str:
    """Return why a subscription URL is not acceptable, or '' (addresses are checked again at each send)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return BAD_URL
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        return BAD_URL
    if parts.scheme == "http" and not (loopback_allowed() and _literal_loopback(parts.hostname)):
        return BAD_URL
    return ""


def _literal_loopback(host: str) -> bool:
    """Return True for localhost or a loopback address written as such."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Return True when an address may be sent to."""
    if address.is_loopback:
        return loopback_allowed()
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> str:
    """Return the first address of the host, refusing it when any address it resolves to is not allowed."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(NOT_RESOLVED.format(host=host)) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found]
    for address in addresses:
        if not _allowed(address):
            raise Refused(PRIVATE_ADDRESS.format(host=host, address=address))
    return str(addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address, verifying the certificate for the URL's host name."""

    def __init__(self, address: str, host: str, port: int, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address, self._context = address, context

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection (loopback only) to a checked address."""

    def __init__(self, address: str, host: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST the body to the URL's checked address; raise Refused, or OSError for a network failure."""
    if problem := url_problem(url):
        raise Refused(problem)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(parts.hostname, port)
    connect, read = settings.PORTAL_EVENTS_CONNECT_TIMEOUT, settings.PORTAL_EVENTS_READ_TIMEOUT
    if parts.scheme == "https":
        connection = _PinnedHTTPS(address, parts.hostname, port, connect, ssl.create_default_context())
    else:
        connection = _PinnedHTTP(address, parts.hostname, port, connect)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        connection.connect()
        connection.sock.settimeout(read)
        connection.request("POST", path, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        answer = response.read(MAX_ANSWER)
        return Answer(response.status, answer, int((time.monotonic() - started) * 1000))
    finally:
        connection.close()
