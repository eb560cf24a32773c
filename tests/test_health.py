"""/healthz up and down, and the pages shown when Cognito fails or a page does not exist."""

from http import HTTPStatus

import pytest
from django.urls import path

import portal.urls
from accounts import cognito
from tests.faults import cognito_fault

pytestmark = pytest.mark.django_db


def user_page(request):
    """Read one user from Cognito, letting the gateway's faults escape like any view would."""
    cognito.user_get("anyone@example.com")
    raise AssertionError("the fault should have escaped the gateway")


# The portal's URLs plus a page that calls Cognito (used with @pytest.mark.urls(__name__)).
urlpatterns = [*portal.urls.urlpatterns, path("cognito-page", user_page)]
handler404 = portal.urls.handler404
handler500 = portal.urls.handler500


@pytest.fixture
def unreachable(settings):
    """Point the gateway at a loopback port where nothing listens."""
    settings.COGNITO_ENDPOINT_URL = "http://127.0.0.1:9"
    settings.COGNITO_USER_POOL_ID = "us-east-1_unreachable"


@pytest.fixture
def no_backoff(monkeypatch):
    """Let botocore retry throttled calls without sleeping between attempts."""
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)


def test_healthz_is_200_when_database_and_pool_answer(client, pool):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok", "cognito": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_when_the_pool_is_missing(client, aws, settings):
    settings.COGNITO_USER_POOL_ID = "us-east-1_doesnotexist"
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "degraded", "database": "ok", "cognito": "pool not found"}


def test_healthz_is_503_when_no_pool_is_configured(client, aws, settings):
    settings.COGNITO_USER_POOL_ID = ""
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "COGNITO_USER_POOL_ID" in response.json()["cognito"]


def test_healthz_is_503_when_cognito_is_unreachable(client, unreachable):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["cognito"] == "unreachable"


def test_healthz_refuses_post(client, pool):
    assert client.post("/healthz").status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.urls(__name__)
def test_unreachable_cognito_in_a_view_shows_the_503_page(client, unreachable):
    response = client.get("/cognito-page")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "30"
    page = response.content.decode()
    assert "Cognito cannot be reached" in page
    assert "Nothing was changed" in page
    assert "Traceback" not in page and "EndpointConnectionError" not in page


@pytest.mark.urls(__name__)
def test_throttling_in_a_view_shows_the_busy_page_simulated(client, pool, no_backoff):
    with cognito_fault("TooManyRequestsException") as failed:
        response = client.get("/cognito-page")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert "Cognito is busy" in response.content.decode()
    assert len(failed) > 1  # retried before giving up


def test_unknown_url_shows_the_portal_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == HTTPStatus.NOT_FOUND
    page = response.content.decode()
    assert "This page does not exist" in page
    assert "Access portal" in page
