"""Values every template may use."""

from django.conf import settings


def portal(request) -> dict:
    """Expose whether the portal runs on the embedded emulator."""
    return {"embedded": settings.COGNITO_EMBEDDED}
