"""Billing, an example application: sign in against the portal's pool, check the group, then the role.

A plain WSGI app (no framework) using cognito_access, as the seed's step 4 describes:
1. the user signs in with the applications' app client and gets an ID token;
2. the app verifies it and checks the user is in its group (`app-billing`), else 403;
3. the one role and its level decide which features are unlocked.
`/api/features` shows the other style: cognito_access's WSGI middleware with a bearer token.

Run it:  gunicorn -b 127.0.0.1:8001 'examples.billing.app:from_environ()'   (see README.md)
"""

import html
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from cognito_access import (
    Config,
    EventsEndpoint,
    Forbidden,
    KeysUnavailable,
    MemoryStore,
    Receiver,
    TokenError,
    Verifier,
)
from cognito_access.wsgi import ENVIRON_KEY, AccessMiddleware
from examples.billing import signin

# Each feature and the lowest level of each role that unlocks it (a role not named never does).
FEATURES = [
    ("View invoices", {"a": 1, "b": 1, "c": 1}),
    ("Create invoices", {"a": 2, "b": 1}),
    ("Export the ledger", {"b": 2, "c": 2}),
    ("Approve payments", {"a": 3}),
    ("Change billing settings", {"a": 3, "b": 3}),
]
COOKIE = "billing_session"
SESSION_ENDED = "Your session ended (your access changed or you were signed out). Please sign in again."
BAD_CREDENTIALS = "The email or password is not right, or the account is disabled."
UNAVAILABLE = "The sign-in service cannot be reached. Please try again in a moment."


def unlocked(role: str | None, level: int) -> list[tuple[str, bool]]:
    """Return every feature with whether this role and level unlock it."""
    return [(name, role is not None and level >= needs.get(role, 10**9)) for name, needs in FEATURES]


@dataclass(frozen=True)
class Settings:
    """What the example needs to know about the pool."""

    access: Config
    client_id: str
    cognito_endpoint: str
    application: str = "billing"
    secure_cookies: bool = True
    webhook_secret: str = field(default="", repr=False)  # the portal's subscription secret: events at POST /events

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Settings":
        """Read the same variables as the portal's .env (what cognito_bootstrap writes)."""
        region = environ.get("COGNITO_REGION", "us-east-1")
        endpoint = environ.get("COGNITO_ENDPOINT_URL", "") or f"https://cognito-idp.{region}.amazonaws.com/"
        pool = environ["COGNITO_USER_POOL_ID"]
        jwks = environ.get("COGNITO_JWKS_URL", "")
        if not jwks and environ.get("COGNITO_ENDPOINT_URL"):
            jwks = f"{endpoint.rstrip('/')}/{pool}/.well-known/jwks.json"
        portal = environ.get("EXAMPLE_PORTAL_URL", "").rstrip("/")
        application = environ.get("EXAMPLE_APPLICATION", "billing")
        # The application's own app client (what cognito_bootstrap writes); the shared one only for old pools.
        client = (
            environ.get("COGNITO_CLIENT_ID_" + application.upper().replace("-", "_"))
            or environ["COGNITO_APPLICATIONS_CLIENT_ID"]
        )
        access = Config(
            region=region,
            user_pool_id=pool,
            client_ids=(client,),
            jwks_url=jwks,
            group_prefix=environ.get("PORTAL_APPLICATION_GROUP_PREFIX", "app-"),
            # The portal's PORTAL_ROLES: 'name' or 'name=Display name' items; the names are what tokens carry.
            roles=tuple(item.partition("=")[0].strip() for item in environ.get("PORTAL_ROLES", "a,b,c").split(",")),
            revocations_url=f"{portal}/api/v1/revocations" if portal else "",
            api_key=environ.get("EXAMPLE_API_KEY", ""),
            revocations_seconds=float(environ.get("EXAMPLE_REVOCATIONS_SECONDS", "10")),
        )
        return cls(
            access,
            client,
            endpoint,
            application,
            environ.get("EXAMPLE_SECURE_COOKIES", "false").lower() == "true",
            environ.get("EXAMPLE_WEBHOOK_SECRET", ""),
        )


class Sessions:
    """Server-side sessions in memory (one process): id -> {tokens, csrf, notice}."""

    def __init__(self):
        self._lock = threading.Lock()
        self._data: dict[str, dict] = {}

    def get(self, environ: dict) -> tuple[str, dict]:
        """Return (id, data) of the request's session, a new empty one when it has none."""
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        sid = cookie[COOKIE].value if COOKIE in cookie else ""
        with self._lock:
            if sid not in self._data:
                sid = secrets.token_urlsafe(32)
                self._data[sid] = {"csrf": secrets.token_urlsafe(32)}
            return sid, self._data[sid]

    def reset(self, sid: str) -> dict:
        """Empty a session (sign out), keeping a fresh CSRF token; return it."""
        with self._lock:
            self._data[sid] = {"csrf": secrets.token_urlsafe(32)}
            return self._data[sid]


class BillingApp:
    """The example application."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = MemoryStore()  # what the portal pushed: tokens issued before a change are refused at once
        self.verifier = Verifier(settings.access, events=self.store)
        self.sessions = Sessions()
        self.api = AccessMiddleware(self.features_api, self.verifier, settings.application)
        secret = settings.webhook_secret
        self.events = EventsEndpoint(Receiver(store=self.store, secret=secret)) if secret else None

    # --- plumbing -----------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        if path == "/events" and self.events is not None:  # the portal's signed events; no session, no CSRF
            return self.events(environ, start_response)
        if path == "/api/features":
            return (
                self.api(environ, start_response)
                if method == "GET"
                else self.respond(start_response, "405 Method Not Allowed", "Method not allowed.", allow="GET")
            )
        sid, session = self.sessions.get(environ)
        routes = {
            ("GET", "/"): self.home,
            ("GET", "/signin"): self.signin_form,
            ("POST", "/signin"): self.signin,
            ("POST", "/refresh"): self.refresh,
            ("POST", "/signout"): self.signout,
        }
        handler = routes.get((method, path))
        if handler is None:
            return self.respond(start_response, "404 Not Found", self.page("Not found", "<p>Not found.</p>"), sid=sid)
        if method == "POST":
            form = self.form(environ)
            if not secrets.compare_digest(form.get("csrf", ""), session["csrf"]):
                return self.respond(
                    start_response, "403 Forbidden", self.page("Forbidden", "<p>Bad form.</p>"), sid=sid
                )
            return handler(start_response, sid, session, form)
        return handler(start_response, sid, session)

    @staticmethod
    def form(environ) -> dict[str, str]:
        """Return the posted form (at most 8 KB)."""
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), 8192)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length).decode("utf-8", "replace") if length else ""
        return {key: values[0] for key, values in parse_qs(body).items()}

    def respond(self, start_response, status: str, body: str, *, sid: str = "", location: str = "", **extra):
        """Send an HTML (or redirect) response, setting the session cookie."""
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("X-Frame-Options", "DENY"),
            ("Content-Security-Policy", "default-src 'self'"),
        ]
        if sid:
            flags = "; Secure" if self.settings.secure_cookies else ""
            headers.append(("Set-Cookie", f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax{flags}"))
        if location:
            headers.append(("Location", location))
        headers += [(name.title(), value) for name, value in extra.items()]
        start_response(status, headers)
        return [body.encode()]

    def redirect(self, start_response, sid: str, location: str):
        """Redirect with 303 See Other."""
        return self.respond(start_response, "303 See Other", "", sid=sid, location=location)

    def page(self, title: str, body: str, notice: str = "") -> str:
        """Return a whole HTML page; `body` must already be escaped."""
        name = html.escape(self.settings.application.title())
        shown = f'<p class="notice">{html.escape(notice)}</p>' if notice else ""
        return (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)} - {name}"
            f"</title></head><body><h1>{name}</h1>{shown}{body}</body></html>"
        )

    # --- pages --------------------------------------------------------------------------------

    def home(self, start_response, sid, session):
        """Show the signed-in user's role and the features it unlocks; refresh an expired token first."""
        if "id_token" not in session:
            return self.redirect(start_response, sid, "/signin")
        try:
            access = self.verifier.check(session["id_token"], self.settings.application, token_use="id")
        except KeysUnavailable:
            return self.respond(
                start_response, "503 Service Unavailable", self.page("Unavailable", UNAVAILABLE), sid=sid
            )
        except TokenError:  # expired, most likely: refresh once, then give up
            if session.pop("refreshed", False):
                self.sessions.reset(sid)["notice"] = SESSION_ENDED
                return self.redirect(start_response, sid, "/signin")
            return self.refresh(start_response, sid, session, {})
        except Forbidden as exc:
            return self.respond(
                start_response,
                "403 Forbidden",
                self.page("No access", f"<p>{html.escape(str(exc))}</p>{self.signout_form(session)}"),
                sid=sid,
            )
        session.pop("refreshed", None)
        return self.respond(start_response, "200 OK", self.features_page(access, session), sid=sid)

    def features_page(self, access, session) -> str:
        """Return the page listing what the role unlocks."""
        role = f"{access.role.upper()}{access.level}" if access.role else "none"
        items = "".join(
            f'<li class="{"unlocked" if on else "locked"}" data-feature="{html.escape(name)}">'
            f"{html.escape(name)}: {'unlocked' if on else 'locked'}</li>"
            for name, on in unlocked(access.role, access.level)
        )
        left = max(0, access.claims.expires_at - int(time.time()))
        body = (
            f'<p>Signed in as <b id="email">{html.escape(access.email)}</b>, role <b id="role">{role}</b>.</p>'
            f"<p>Applications: {html.escape(', '.join(access.applications))}. "
            f"Token valid {left // 60} min more.</p>"
            f'<ul id="features">{items}</ul>'
            f'<form method="post" action="/refresh"><input type="hidden" name="csrf" '
            f'value="{html.escape(session["csrf"])}"><button id="refresh">Refresh my access now</button></form>'
            f"{self.signout_form(session)}"
        )
        return self.page("Features", body, session.pop("notice", ""))

    @staticmethod
    def signout_form(session) -> str:
        """Return the sign-out button."""
        return (
            f'<form method="post" action="/signout"><input type="hidden" name="csrf" '
            f'value="{html.escape(session["csrf"])}"><button id="signout">Sign out</button></form>'
        )

    def signin_form(self, start_response, sid, session, error: str = "", status: str = "200 OK"):
        """Show the sign-in form."""
        body = (
            (f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "")
            + f'<form method="post" action="/signin"><input type="hidden" name="csrf" '
            f'value="{html.escape(session["csrf"])}"><label>Email <input name="email" type="email" required>'
            f'</label> <label>Password <input name="password" type="password" required></label> '
            f'<button id="signin">Sign in</button></form>'
        )
        return self.respond(start_response, status, self.page("Sign in", body, session.pop("notice", "")), sid=sid)

    def signin(self, start_response, sid, session, form):
        """Sign in with email and password; keep the tokens server-side."""
        try:
            result = signin.sign_in(
                self.settings.cognito_endpoint,
                self.settings.client_id,
                form.get("email", "").strip(),
                form.get("password", ""),
            )
        except signin.SignInRefused:
            return self.signin_form(start_response, sid, session, BAD_CREDENTIALS, "401 Unauthorized")
        except signin.SignInUnavailable:
            return self.signin_form(start_response, sid, session, UNAVAILABLE, "503 Service Unavailable")
        if isinstance(result, str):
            message = f"Cognito asks for {result}: finish setting up your account first, then sign in here."
            return self.signin_form(start_response, sid, session, message, "401 Unauthorized")
        session = self.sessions.reset(sid)
        session.update(id_token=result.id_token, access_token=result.access_token, refresh_token=result.refresh_token)
        return self.redirect(start_response, sid, "/")

    def refresh(self, start_response, sid, session, form):
        """Get new tokens with the refresh token; a refused refresh ends the session."""
        if "refresh_token" not in session:
            return self.redirect(start_response, sid, "/signin")
        try:
            result = signin.refresh(self.settings.cognito_endpoint, self.settings.client_id, session["refresh_token"])
        except signin.SignInRefused:
            self.sessions.reset(sid)["notice"] = SESSION_ENDED
            return self.redirect(start_response, sid, "/signin")
        except signin.SignInUnavailable:
            return self.respond(
                start_response, "503 Service Unavailable", self.page("Unavailable", UNAVAILABLE), sid=sid
            )
        session.update(
            id_token=result.id_token,
            access_token=result.access_token,
            refresh_token=result.refresh_token,
            refreshed=True,
        )
        return self.redirect(start_response, sid, "/")

    def signout(self, start_response, sid, session, form):
        """Forget the tokens."""
        self.sessions.reset(sid)
        return self.redirect(start_response, sid, "/signin")

    @staticmethod
    def features_api(environ, start_response):
        """Answer the bearer's role and unlocked features as JSON (behind AccessMiddleware)."""
        access = environ[ENVIRON_KEY]
        body = json.dumps(
            {
                "email": access.email,
                "role": access.role,
                "level": access.level,
                "applications": list(access.applications),
                "features": [name for name, on in unlocked(access.role, access.level) if on],
            }
        ).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
        return [body]


def from_environ(environ: Mapping[str, str] | None = None) -> BillingApp:
    """Build the app from environment variables (the portal's .env names)."""
    import os

    return BillingApp(Settings.from_environ(os.environ if environ is None else environ))
