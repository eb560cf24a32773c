"""The layout move: sessions stored with the sign-in backend's old dotted path keep working after migrating."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from accounts.models import User

migration = importlib.import_module("accounts.migrations.0007_session_backend_path")
pytestmark = pytest.mark.django_db


def _old_session(user: User) -> str:
    """Store a session as the portal wrote it before the move; return its key."""
    store = SessionStore()
    store.update(
        {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: migration.OLD, HASH_SESSION_KEY: user.get_session_auth_hash()}
    )
    store.create()
    return store.session_key


def test_a_session_of_the_old_backend_path_is_signed_in_after_the_migration():
    user = User.objects.create_user(username="desk@example.com", email="desk@example.com")
    key = _old_session(user)
    browser = Client()
    browser.cookies["sessionid"] = key
    assert browser.get("/healthz").wsgi_request.user.is_anonymous  # before: Django no longer knows the path
    key = _old_session(user)
    migration._repoint(migration.OLD, migration.NEW)(apps, None)
    assert SessionStore(session_key=key).load()[BACKEND_SESSION_KEY] == migration.NEW
    browser.cookies["sessionid"] = key
    assert browser.get("/healthz").wsgi_request.user == user
