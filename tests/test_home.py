"""The start page: find a user, and only the actions the staff member may take."""

from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import DirectorySync


@pytest.mark.django_db
def test_home_for_an_administrator_offers_invite_and_audit(admin_client):
    at = timezone.now()
    DirectorySync.objects.create(started=at, finished=at, source="test", users=3)
    page = admin_client.get(reverse("home"))
    assert page.status_code == HTTPStatus.OK
    text = page.content.decode()
    assert "Invite a user" in text and "Audit log" in text
    assert "as of" in text


@pytest.mark.django_db
def test_home_for_the_help_desk_hides_invite_and_audit(helpdesk_client):
    text = helpdesk_client.get(reverse("home")).content.decode()
    assert "Find a user" in text
    assert "Invite a user" not in text and "Audit log" not in text


@pytest.mark.django_db
def test_home_needs_a_signed_in_user(client):
    assert client.get(reverse("home")).url.startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_the_access_tile_follows_the_access_review_rule(admin_client, monkeypatch):
    from accounts.rules import permissions

    assert 'id="home-access"' in admin_client.get(reverse("home")).content.decode()
    monkeypatch.setattr(permissions, "can_review_access", lambda actor: False)
    text = admin_client.get(reverse("home")).content.decode()
    assert 'id="home-access"' not in text and "Find a user" in text


@pytest.mark.django_db
def test_the_navigation_links_only_what_the_predicates_allow(client, helpdesk_client):
    from accounts.models import User

    nav = helpdesk_client.get(reverse("home")).content.decode()
    assert all(link in nav for link in (">Users<", ">Access<", ">Bulk jobs<", ">Administration<"))
    no_standing = User.objects.create(username="x", email="x@example.com", is_staff=True)  # lost its group
    client.force_login(no_standing)
    nav = client.get(reverse("accounts:account")).content.decode()
    assert ">Users<" not in nav and ">Access<" not in nav and ">My account<" in nav
