"""Response headers the portal adds itself; Django sets the frame and referrer ones, django-csp the CSP."""

import functools

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


def permissions_policy() -> str:
    """Return the Permissions-Policy value: every browser feature the portal never uses, off."""
    return ", ".join(f"{feature}=()" for feature in settings.PORTAL_PERMISSIONS_POLICY_OFF)


@functools.cache
def security_headers(*, secure: bool) -> tuple[tuple[str, str], ...]:
    """Return the headers SecurityMiddleware and PermissionsPolicyMiddleware add to a response to a request
    over HTTPS (`secure`) or not, for the endpoints that answer without Django's middleware (kept until a
    setting changes, as the middleware keep theirs)."""
    found = []
    if settings.SECURE_HSTS_SECONDS and secure:
        subdomains = "; includeSubDomains" if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS else ""
        preload = "; preload" if settings.SECURE_HSTS_PRELOAD else ""
        found.append(("Strict-Transport-Security", f"max-age={settings.SECURE_HSTS_SECONDS}{subdomains}{preload}"))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        found.append(("X-Content-Type-Options", "nosniff"))
    if policy := settings.SECURE_REFERRER_POLICY:
        values = [value.strip() for value in policy.split(",")] if isinstance(policy, str) else policy
        found.append(("Referrer-Policy", ",".join(values)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        found.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    found.append(("Permissions-Policy", permissions_policy()))
    return tuple(found)


@receiver(setting_changed)
def _settings_changed(**kwargs) -> None:
    """Forget the headers worked out from the settings (tests change them)."""
    security_headers.cache_clear()


class PermissionsPolicyMiddleware:
    """Send Permissions-Policy on every response: the browser features the portal never uses stay off."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = permissions_policy()

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.policy)
        return response
