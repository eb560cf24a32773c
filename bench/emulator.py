"""Make the in-process emulator page through a large pool in linear time, for benchmarks only.

moto finds the start of each page by scanning the whole result list for the pagination token's anchor, and
ListUsersInGroup filters the whole pool on every call, so listing 100,000 users costs O(n^2) in the
emulator: about four minutes of a five-minute sync is moto paging, not the portal. fast_listing() caches the
anchor positions and the group members for as long as the pool does not change, so a page costs O(page).
It changes how long the emulator takes, never which calls the portal makes nor what they return.

FrontedMotoServer puts a Front before moto's server: an independent count of the requests that reach the
emulator (what Cognito would count, retries included), and on demand a slow or a quota-enforcing Cognito.
"""

import argparse
import json
import logging
import threading
import time
import urllib.request
from collections import Counter, defaultdict, deque
from contextlib import contextmanager

from moto.cognitoidp import models as cognito_models
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.utilities.paginator import Paginator, paginate
from werkzeug.serving import make_server

_positions: dict[tuple, dict[str, int]] = {}
_members: dict[tuple, list] = {}


def _signature(results: list) -> tuple:
    """Identify a result list by its length and its end objects (stable while the pool is unchanged)."""
    return (len(results), id(results[0]), id(results[-1])) if results else (0,)


def _fast_paginate(self: Paginator, results: list):
    """Return the page after the token's anchor, finding the anchor through a cached position map."""
    start = 0
    if self._starting_token:
        if self._parsed_token is None:
            return Paginator.__dict__["_original_paginate"](self, results)
        key = (self._param_checksum, tuple(self._unique_attributes), _signature(results))
        if key not in _positions:
            _positions[key] = {
                "|".join(str(self._get_unique_value(item, attr)) for attr in self._unique_attributes): index
                for index, item in enumerate(results)
            }
        start = _positions[key].get(self._parsed_token["uniqueAttributes"])
        if start is None:
            return Paginator.__dict__["_original_paginate"](self, results)  # moto's own error or empty page
    end = min(start + self._max_results, len(results))
    page = results[start:end]
    token = self._build_next_token(results[end]) if page and end < len(results) else None
    return page, token


def list_users_in_group(self, user_pool_id: str, group_name: str):
    """Return the group's members in pool order, computed once while the pool and the group are unchanged."""
    pool = self.describe_user_pool(user_pool_id)
    group = self.get_group(user_pool_id, group_name)
    key = (user_pool_id, group_name, len(pool.users), len(group.users))
    if key not in _members:
        members = group.users
        _members[key] = [user for user in pool.users.values() if user in members]
    return _members[key]


@contextmanager
def fast_listing():
    """Page through the emulator's pool in O(page) while the block runs."""
    backend = cognito_models.CognitoIdpBackend
    original_group = backend.list_users_in_group
    Paginator._original_paginate = Paginator.paginate
    Paginator.paginate = _fast_paginate
    backend.list_users_in_group = paginate(pagination_model=cognito_models.PAGINATION_MODEL)(list_users_in_group)
    try:
        yield
    finally:
        Paginator.paginate = Paginator.__dict__["_original_paginate"]
        del Paginator._original_paginate
        backend.list_users_in_group = original_group
        _positions.clear()
        _members.clear()


# --- A counter in front of the emulator's server: what Cognito would see ---------------------------------------


class Front:
    """A WSGI layer in front of moto's server: counts every HTTP request by operation as it arrives, optionally
    answers each one `latency` seconds late (a slow Cognito) and throttles a category above `limits` requests in
    any second (TooManyRequestsException, as Cognito does); the latency is spent concurrently, moto's own work
    one request at a time (as the embedded Cognito serves it), so a benchmark can compare the portal's own counts
    with an independent one, retries included."""

    def __init__(self, app, categories: dict[str, str]):
        self.app, self.categories = app, categories
        self.latency, self.limits = 0.0, {}
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, operation) of every request
        self.throttled: Counter = Counter()
        self.busy = 0.0  # seconds moto spent serving (one request at a time)
        self._recent: dict[str, deque] = defaultdict(deque)
        self._lock, self._serving = threading.Lock(), threading.Lock()

    def reset(self, *, latency: float = 0.0, limits: dict[str, int] | None = None) -> None:
        """Forget what was seen and set this run's latency and limits."""
        with self._lock:
            self.latency, self.limits = latency, dict(limits or {})
            self.arrivals, self.throttled, self.busy = [], Counter(), 0.0
            self._recent.clear()

    def counts(self) -> Counter:
        """Return the requests that arrived, by operation."""
        with self._lock:
            return Counter(operation for _, operation in self.arrivals)

    def _over_limit(self, operation: str, now: float) -> bool:
        """Record an accepted request of the operation's category, or return True when its second is full."""
        category = self.categories.get(operation, "")
        limit = self.limits.get(category)
        if limit is None:
            return False
        recent = self._recent[category]
        while recent and recent[0] <= now - 1:
            recent.popleft()
        if len(recent) >= limit:
            return True
        recent.append(now)
        return False

    def control(self, environ, start_response):
        """Answer the benchmark's own requests: POST /_front/reset {latency, limits}, GET /_front/seen."""
        if environ["PATH_INFO"] == "/_front/reset":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            self.reset(**json.loads(environ["wsgi.input"].read(size) or b"{}"))
            body = b"{}"
        else:
            with self._lock:
                body = json.dumps({"arrivals": self.arrivals, "throttled": self.throttled, "busy": self.busy}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_front/"):
            return self.control(environ, start_response)
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
        now = time.monotonic()
        with self._lock:
            self.arrivals.append((now, operation))
            refused = self._over_limit(operation, now)
            if refused:
                self.throttled[operation] += 1
        if self.latency:
            time.sleep(self.latency)
        if refused:
            body = json.dumps({"__type": "TooManyRequestsException", "message": "Rate exceeded"}).encode()
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
            )
            return [body]
        with self._serving:  # moto is not thread-safe: one request at a time, as the embedded Cognito serves them
            began = time.monotonic()
            body = list(self.app(environ, start_response))
            self.busy += time.monotonic() - began
        return body


class FrontedMotoServer(ThreadedMotoServer):
    """moto's threaded server with a Front before its application (`server.front`)."""

    def __init__(self, categories: dict[str, str], **kwargs):
        super().__init__(**kwargs)
        self.front = Front(DomainDispatcherApplication(create_backend_app), categories)

    def _server_entry(self) -> None:
        self._server = make_server(self._ip_address, self._port, self.front, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def peak_per_second(times: list[float]) -> int:
    """Return the most events in any one-second window (each window starting at an event)."""
    times, peak, start = sorted(times), 0, 0
    for end, now in enumerate(times):
        while times[start] <= now - 1:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


class FrontClient:
    """The benchmark's side of a Front served in another process (python bench/emulator.py --port N)."""

    def __init__(self, url: str):
        self.url = url

    def reset(self, *, latency: float = 0.0, limits: dict[str, int] | None = None) -> None:
        """Forget what the Front saw and set this run's latency and limits."""
        body = json.dumps({"latency": latency, "limits": limits or {}}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/_front/reset", data=body, method="POST")).read()

    def seen(self) -> tuple[list[tuple[float, str]], Counter, float]:
        """Return the requests that arrived (time, operation), those throttled by operation, moto's busy seconds."""
        answer = json.loads(urllib.request.urlopen(f"{self.url}/_front/seen").read())
        return [tuple(arrival) for arrival in answer["arrivals"]], Counter(answer["throttled"]), answer["busy"]


def main() -> None:
    """Serve moto behind a Front on 127.0.0.1:PORT, in a process of its own (the portal's GIL stays the portal's)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--categories", required=True, help="JSON: each operation's quota category")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    categories = json.loads(args.categories)
    MotoRequestHandler.protocol_version = "HTTP/1.1"  # keep connections open, as Cognito's endpoint does
    server = FrontedMotoServer(categories, ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
