"""The portal's URLs."""

from django.urls import include, path

from accounts import pages
from accounts.admin import portal_site
from accounts.applications import api

urlpatterns = [
    path("", pages.home, name="home"),
    path("healthz", pages.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("admin/", portal_site.urls),
    path("api/v1/access-check", api.access_check, name="api_access_check"),
    path("api/v1/revocations", api.revocation_feed, name="api_revocations"),
    path("api/v1/events", api.event_feed, name="api_events"),
    path("api/v1/events/poll", api.event_poll, name="api_events_poll"),
    path(".well-known/jwks.json", api.events_jwks, name="events_jwks"),
]

handler403 = "accounts.pages.error_403"
handler404 = "accounts.pages.error_404"
handler500 = "accounts.pages.error_500"
