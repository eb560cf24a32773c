"""Fixtures for signed-in staff: local users shadowing Cognito staff accounts, and their clients."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts import cognito
from accounts.directory import index as directory
from accounts.models import User
from accounts.rules import roles
from accounts.rules.permissions import DJANGO_GROUPS
from tests.support.pool import STAFF_PASSWORD


def local_staff(identity: cognito.User, standing: str | None, owned=()) -> User:
    """Return the local user sign-in would make for a Cognito identity ('admin', 'helpdesk', 'owner' or None)."""
    user = User.objects.create(
        username=identity.sub,
        cognito_sub=identity.sub,
        email=identity.email,
        first_name=identity.name,
        is_staff=standing is not None,
        owned_applications=sorted(owned),
    )
    user.set_unusable_password()
    user.save()
    if standing:
        user.groups.add(Group.objects.get(name=DJANGO_GROUPS[standing]))
    return user


@pytest.fixture
def admin_user(db, admin_identity):
    """A signed-in administrator's local user."""
    return local_staff(admin_identity, "admin")


@pytest.fixture
def helpdesk_user(db, helpdesk_identity):
    """A signed-in help-desk member's local user."""
    return local_staff(helpdesk_identity, "helpdesk")


def make_owner(identity: cognito.User, *applications: str) -> None:
    """Put a Cognito user in the owner group of each application (creating the group when missing)."""
    for application in applications:
        group = roles.owner_group(application)
        if not any(found.name == group for found in cognito.groups_list()):
            cognito.group_create(group, f"Owners of {application}")
        cognito.user_add_to_group(identity.sub, group)


@pytest.fixture
def owner_identity(make_cognito_user):
    """A Cognito user who owns billing (its owner group) and holds no role, with the staff password."""
    user = make_cognito_user("owner@example.com", role=None, password=STAFF_PASSWORD, name="Olive Owner")
    make_owner(user, "billing")
    return user


@pytest.fixture
def owner_user(db, owner_identity):
    """A signed-in owner of billing's local user."""
    return local_staff(owner_identity, "owner", owned=["billing"])


@pytest.fixture
def owner_client(client, owner_user):
    """A test client signed in as the owner of billing."""
    client.force_login(owner_user)
    return client


@pytest.fixture
def nonstaff_user(db, make_cognito_user):
    """A local user without staff standing (signed in, but no business in the admin)."""
    return local_staff(make_cognito_user("plain@example.com"), None)


@pytest.fixture
def admin_client(client, admin_user):
    """A test client signed in as an administrator."""
    client.force_login(admin_user)
    return client


@pytest.fixture
def helpdesk_client(client, helpdesk_user):
    """A test client signed in as a help-desk member."""
    client.force_login(helpdesk_user)
    return client


@pytest.fixture
def persona_client(request, client, db, pool):
    """A client for the persona named by the test's `persona` parameter."""
    persona = request.getfixturevalue("persona")
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(f"{persona}_user"))
    return client


def index_user(user: cognito.User):
    """Put a Cognito user into the directory index, as opening their page would; return the row."""
    return directory.entry_store(cognito.user_get(user.sub), cognito.user_groups(user.sub))


def user_url(name: str, sub: str | None = None) -> str:
    """Return a directory admin URL: 'changelist', 'add', 'change', 'role', 'access', ..."""
    return reverse(f"admin:accounts_directoryentry_{name}", args=[sub] if sub else [])


@pytest.fixture
def alice(db, make_cognito_user):
    """An ordinary user holding role A1 and the billing application, present in the index."""
    user = make_cognito_user("alice@example.com", role=("a", 1), apps=["billing"], name="Alice Liddell")
    index_user(user)
    return user
