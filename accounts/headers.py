"""Response headers the portal adds itself; Django sets the frame and referrer ones, django-csp the CSP."""

from django.conf import settings


class PermissionsPolicyMiddleware:
    """Send Permissions-Policy on every response: the browser features the portal never uses stay off."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = ", ".join(f"{feature}=()" for feature in settings.PORTAL_PERMISSIONS_POLICY_OFF)

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.policy)
        return response
