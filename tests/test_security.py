"""The security sweep, derived from the URLconf so that no route escapes it.

ROUTES below declares, in one place, what every route answers to the four personas (anonymous, a signed-in
user without staff standing, the help desk, an administrator), for GET and, on the routes that change state,
for POST. A route the URLconf has and the table lacks fails the sweep. Across every answer: frames are
denied, no GET writes to Cognito, the audit or the database (the directory index refreshing itself and the
session aside), and every state-changing route refuses a POST without its CSRF token with nothing written.
Then: script in every attribute a person controls comes out escaped, and `next` never leads off-site.
Elsewhere, not repeated here: the session key changes at sign-in (test_signin.py,
test_session_key_changes_at_sign_in) and `manage.py check --deploy` is clean under the production settings
(test_settings.py, test_production_settings_pass_the_deployment_checklist).
"""

import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.html import escape
from moto import mock_aws

import accounts
from accounts import cognito
from accounts.applications import api_keys
from accounts.audit import outbox
from accounts.audit.record import audit_record
from accounts.bulk import imports
from accounts.models import ApiKey, Application, AuditEvent, Delivery, DirectoryEntry, Subscription, User
from accounts.pool.bootstrap import bootstrap
from accounts.reviews import campaigns as review_campaigns
from accounts.rules import roles
from tests.conftest import STAFF_PASSWORD
from tests.support.staff import index_user, local_staff

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "nonstaff", "helpdesk", "owner", "admin")  # the owner owns the world's application
LOGIN = "/accounts/login/?next={here}"  # the portal's sign-in, coming back here afterwards
SIGN_IN, HOME = "/accounts/login/", "/"
USER_PAGE = "/admin/accounts/directoryentry/{sub}/change/"
USERS = "/admin/accounts/directoryentry/"
ANY_USER_PAGE = "/admin/accounts/directoryentry/*"
APPS, APP_PAGE = "/admin/accounts/application/", "/admin/accounts/application/{app}/change/"
JOB_PAGE, IMPORT = "/admin/accounts/bulkjob/{job}/change/", "/admin/accounts/bulkjob/import/"
STAFF = "/admin/staff/"
REVIEWS, REVIEW_PAGE = "/admin/reviews/", "/admin/reviews/{campaign}/"
CONFIRMED = {"confirm": "on"}  # what a confirmation page sends
SUBS, SUB_PAGE = "/admin/accounts/subscription/", "/admin/accounts/subscription/{subscription}/change/"


def csv_file(w) -> dict:
    """Return an upload of a one-row CSV file (a new file object each time: a post consumes it)."""
    content = f"{imports.HEADER}\nimported.{w.app_name}@example.com,Imported Person,b,1,billing\n".encode()
    return {"file": SimpleUploadedFile("users.csv", content, content_type="text/csv")}


@dataclass(frozen=True)
class Route:
    """What a route answers each persona: a status, or where it redirects ('*' ends a prefix)."""

    get: tuple
    post: tuple | None = None  # declared for the routes that change state
    data: Callable[["World"], dict] | None = None
    csrf: bool = True  # False only for an API that no cookie authenticates


def alike(answer) -> tuple:
    """Return the same answer for every persona."""
    return (answer,) * len(PERSONAS)


def staff_only(helpdesk, admin, *, owner) -> tuple:
    """Return the answers of a page behind the admin site's gate."""
    return (LOGIN, HTTPStatus.FORBIDDEN, helpdesk, owner, admin)


OK, FORBIDDEN, NOT_FOUND, NOT_ALLOWED = (
    HTTPStatus.OK,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.METHOD_NOT_ALLOWED,
)
NEW_PASSWORD = {"new_password": "Brand-New-Pass-1!", "confirm_password": "Brand-New-Pass-1!"}

ROUTES: dict[str, Route] = {
    # The portal's own pages
    "home": Route(get=(LOGIN, OK, OK, OK, OK)),
    "healthz": Route(get=alike(OK)),
    "accounts:login": Route(
        get=(OK, HOME, HOME, HOME, HOME),
        post=(OK, HOME, HOME, HOME, HOME),
        data=lambda w: {"email": "admin@example.com", "password": "Not-The-Password-1!"},
    ),
    "accounts:login_new_password": Route(get=alike(SIGN_IN), post=alike(SIGN_IN), data=lambda w: NEW_PASSWORD),
    "accounts:login_mfa": Route(get=alike(SIGN_IN), post=alike(SIGN_IN), data=lambda w: {"code": "123456"}),
    "accounts:login_mfa_setup": Route(get=alike(SIGN_IN), post=alike(SIGN_IN), data=lambda w: {"code": "123456"}),
    "accounts:password_forgot": Route(
        get=alike(OK), post=alike("/accounts/password/forgot/confirm/"), data=lambda w: {"email": "nobody@example.com"}
    ),
    "accounts:password_forgot_confirm": Route(
        get=alike(OK), post=alike(OK), data=lambda w: {"email": "nobody@example.com", "code": "123456", **NEW_PASSWORD}
    ),
    "accounts:logout": Route(get=alike(NOT_ALLOWED), post=alike(SIGN_IN)),
    "accounts:account": Route(get=(LOGIN, OK, OK, OK, OK)),
    # Without Cognito tokens (a session not opened by signing in) these send to sign in again.
    "accounts:account_password": Route(
        get=(LOGIN, LOGIN, OK, OK, OK),
        post=(LOGIN, LOGIN, OK, OK, OK),
        data=lambda w: {"old_password": "Not-The-Password-1!", **NEW_PASSWORD},
    ),
    "accounts:account_mfa": Route(
        get=(LOGIN, LOGIN, OK, OK, OK), post=(LOGIN, LOGIN, OK, OK, OK), data=lambda w: {"code": "000000"}
    ),
    "accounts:account_sign_out_everywhere": Route(
        get=(LOGIN, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
        post=(LOGIN, SIGN_IN, SIGN_IN, SIGN_IN, SIGN_IN),
    ),
    # The admin site's frame
    "admin:index": Route(get=staff_only(OK, OK, owner=OK)),
    "admin:login": Route(get=alike("/accounts/login/?next=/admin/")),
    "admin:logout": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED), post=staff_only(SIGN_IN, SIGN_IN, owner=SIGN_IN)
    ),
    "admin:password_change": Route(
        get=staff_only(
            "/accounts/account/password/", "/accounts/account/password/", owner="/accounts/account/password/"
        ),
        post=staff_only(
            "/accounts/account/password/", "/accounts/account/password/", owner="/accounts/account/password/"
        ),
        data=lambda w: {"old_password": "x", "new_password1": "y", "new_password2": "y"},
    ),
    "admin:password_change_done": Route(
        get=staff_only("/accounts/account/", "/accounts/account/", owner="/accounts/account/")
    ),
    "admin:autocomplete": Route(get=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN)),
    "admin:jsi18n": Route(get=staff_only(OK, OK, owner=OK)),
    "admin:view_on_site": Route(get=staff_only(NOT_FOUND, NOT_FOUND, owner=NOT_FOUND)),
    "admin:app_list": Route(get=staff_only(OK, OK, owner=OK)),
    "unnamed admin/(?P<url>.*)$": Route(get=staff_only(NOT_FOUND, NOT_FOUND, owner=NOT_FOUND)),
    # The directory
    "admin:accounts_directoryentry_changelist": Route(
        get=staff_only(OK, OK, owner=OK),
        post=staff_only(USERS, USERS, owner=USERS),
        data=lambda w: {"action": "refresh_selected", "_selected_action": [w.sub]},
    ),
    "admin:accounts_directoryentry_add": Route(
        get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, ANY_USER_PAGE, owner=FORBIDDEN),
        data=lambda w: {
            "email": "new@example.com",
            "name": "New Person",
            "role": "b",
            "level": "2",
            "applications": ["crm"],
        },
    ),
    "admin:accounts_directoryentry_change": Route(get=staff_only(OK, OK, owner=OK)),
    "unnamed admin/accounts/directoryentry/<path:object_id>/": Route(
        get=staff_only(USER_PAGE, USER_PAGE, owner=USER_PAGE)
    ),
    "admin:accounts_directoryentry_history": Route(
        get=staff_only(USER_PAGE + "#history", USER_PAGE + "#history", owner=USER_PAGE + "#history")
    ),
    "admin:accounts_directoryentry_delete": Route(
        get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, USERS, owner=FORBIDDEN),
        data=lambda w: {"confirm": w.email},
    ),
    "admin:accounts_directoryentry_refresh": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(USERS + "sync/", USERS + "sync/", owner=FORBIDDEN),
    ),
    "admin:accounts_directoryentry_sync": Route(get=staff_only(OK, OK, owner=FORBIDDEN)),
    "admin:accounts_directoryentry_role": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(USER_PAGE, USER_PAGE, owner=FORBIDDEN),
        data=lambda w: {"role": "c", "level": "2", "shown": "a1"},
    ),
    "admin:accounts_directoryentry_access": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, USER_PAGE, owner=FORBIDDEN),
        data=lambda w: {"applications": ["crm"], "confirm": "on"},
    ),
    "admin:accounts_directoryentry_access_until": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, USER_PAGE, owner=FORBIDDEN),  # crm: not the owner's application
        data=lambda w: {"application": "crm", "expires": "30 days"},
    ),
    "admin:accounts_directoryentry_access_end": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, USER_PAGE, owner=FORBIDDEN),  # billing: not the owner's application
        data=lambda w: {"application": "billing", "expires": "30 days"},
    ),
    "admin:accounts_directoryentry_role_raise": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(USER_PAGE, USER_PAGE, owner=FORBIDDEN),  # an owner never changes a role
        data=lambda w: {"role": "c", "level": "2", "shown": "a1", "expires": "2 days"},
    ),
    # GET shows what the action will do; the POST sent by that page (with `confirm`) acts.
    "admin:accounts_directoryentry_reset_password": Route(
        get=staff_only(OK, OK, owner=FORBIDDEN),
        post=staff_only(USER_PAGE, USER_PAGE, owner=FORBIDDEN),
        data=lambda w: CONFIRMED,
    ),
    "admin:accounts_directoryentry_sign_out": Route(
        get=staff_only(OK, OK, owner=FORBIDDEN),
        post=staff_only(USER_PAGE, USER_PAGE, owner=FORBIDDEN),
        data=lambda w: CONFIRMED,
    ),
    "admin:accounts_directoryentry_disable": Route(
        get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, USER_PAGE, owner=FORBIDDEN),
        data=lambda w: CONFIRMED,
    ),
    "admin:accounts_directoryentry_resend_invitation": Route(  # the target signed in already: refused, said
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, USER_PAGE, owner=FORBIDDEN),
    ),
    "admin:accounts_directoryentry_enable": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, USER_PAGE, owner=FORBIDDEN),
    ),
    # Staff management: administrators only (granting help desk to the target; removing a standing it lacks)
    "admin:staff": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    "admin:staff_grant": Route(
        get=staff_only(FORBIDDEN, STAFF, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, STAFF, owner=FORBIDDEN),
        data=lambda w: {"email": w.email, "standing": "helpdesk"},
    ),
    "admin:staff_remove": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, STAFF, owner=FORBIDDEN),
        data=lambda w: {"standing": "admin"},
    ),
    # The audit log: administrators read it; nobody adds, changes or deletes an event
    "admin:accounts_auditevent_changelist": Route(get=staff_only(FORBIDDEN, OK, owner=OK)),
    "admin:accounts_auditevent_change": Route(
        get=staff_only(FORBIDDEN, OK, owner=OK),
        post=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        data=lambda w: {"outcome": "success"},
    ),
    "unnamed admin/accounts/auditevent/<path:object_id>/": Route(
        get=staff_only(
            "/admin/accounts/auditevent/{event}/change/",
            "/admin/accounts/auditevent/{event}/change/",
            owner="/admin/accounts/auditevent/{event}/change/",
        )
    ),
    "admin:accounts_auditevent_history": Route(get=staff_only(FORBIDDEN, OK, owner=OK)),
    "admin:accounts_auditevent_add": Route(
        get=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        data=lambda w: {"action": "forged", "outcome": "success"},
    ),
    "admin:accounts_auditevent_delete": Route(
        get=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        data=lambda w: {"post": "yes"},
    ),
    "admin:accounts_auditevent_export": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    # The application registry: administrators only
    "admin:accounts_application_changelist": Route(get=staff_only(FORBIDDEN, OK, owner=OK)),
    "admin:accounts_application_add": Route(
        get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, APPS + "*", owner=FORBIDDEN),
        data=lambda w: {"name": f"new-{w.app_name}", "description": "New"},
    ),
    "admin:accounts_application_change": Route(get=staff_only(FORBIDDEN, OK, owner=OK)),
    "unnamed admin/accounts/application/<path:object_id>/": Route(get=staff_only(APP_PAGE, APP_PAGE, owner=APP_PAGE)),
    "admin:accounts_application_history": Route(get=staff_only(APP_PAGE, APP_PAGE, owner=APP_PAGE)),
    "admin:accounts_application_delete": Route(
        get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, APPS, owner=FORBIDDEN),
        data=lambda w: {"confirm": w.app_name},
    ),
    "admin:accounts_application_update": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, APP_PAGE, owner=FORBIDDEN),
        data=lambda w: {"description": "Changed"},
    ),
    "admin:accounts_application_members_csv": Route(get=staff_only(FORBIDDEN, OK, owner=OK)),
    "admin:accounts_application_member_remove": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, APP_PAGE, owner=APP_PAGE),
    ),
    "admin:accounts_application_member_add": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, APP_PAGE, owner=APP_PAGE),
        data=lambda w: {"email": w.email},
    ),
    "admin:accounts_application_owner_assign": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, APP_PAGE, owner=FORBIDDEN),
        data=lambda w: {"email": w.email, "reason": "sweep"},
    ),
    "admin:accounts_application_owner_remove": Route(  # the target owns nothing: refused, said
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, APP_PAGE, owner=FORBIDDEN),
    ),
    "admin:accounts_application_key_issue": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED), post=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)
    ),
    "admin:accounts_application_key_revoke": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, APP_PAGE, owner=FORBIDDEN),
    ),
    "admin:accounts_application_refresh": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED), post=staff_only(FORBIDDEN, APPS, owner=FORBIDDEN)
    ),
    "admin:accounts_application_health": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    # Bulk work: the CSV import is the administrators'; a job is seen by its author and the administrators
    "admin:accounts_bulkjob_changelist": Route(get=staff_only(OK, OK, owner=OK)),
    "admin:accounts_bulkjob_add": Route(get=staff_only(IMPORT, IMPORT, owner=IMPORT)),
    "admin:accounts_bulkjob_import": Route(
        get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, "/admin/accounts/bulkjob/*", owner=FORBIDDEN),
        data=csv_file,
    ),
    "admin:accounts_bulkjob_change": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    "unnamed admin/accounts/bulkjob/<path:object_id>/": Route(get=staff_only(JOB_PAGE, JOB_PAGE, owner=JOB_PAGE)),
    "admin:accounts_bulkjob_history": Route(get=staff_only(JOB_PAGE, JOB_PAGE, owner=JOB_PAGE)),
    "admin:accounts_bulkjob_delete": Route(
        get=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        data=lambda w: {"post": "yes"},
    ),
    "admin:accounts_bulkjob_progress": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    "admin:accounts_bulkjob_apply": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, JOB_PAGE, owner=FORBIDDEN),
    ),
    "admin:accounts_bulkjob_resume": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, JOB_PAGE, owner=FORBIDDEN),
    ),
    "admin:accounts_bulkjob_cancel": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, JOB_PAGE, owner=FORBIDDEN),
    ),
    # Access reviews: the directory's data arranged differently; the export carries audit data
    "admin:accounts_directoryentry_access_dashboard": Route(get=staff_only(OK, OK, owner=FORBIDDEN)),
    "admin:accounts_directoryentry_access_matrix": Route(get=staff_only(OK, OK, owner=FORBIDDEN)),
    "admin:accounts_directoryentry_access_review": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    # Access review campaigns: administrators start them and read the reports; every reviewer has a worklist.
    # The world's campaign gives the help desk its one item, which the help desk decides first; the
    # administrator may not decide another reviewer's item (403).
    "admin:review_list": Route(get=staff_only(OK, OK, owner=OK)),  # owners review their applications' access
    "admin:review_start": Route(
        get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, REVIEWS + "*", owner=FORBIDDEN),
        data=lambda w: {
            "name": "Sweep",
            "applications": [w.app_name],
            "owners_review": "on",
            "deadline": "2099-01-01T09:00",
            "unanswered": "keep",
        },
    ),
    "admin:review_detail": Route(get=staff_only(OK, OK, owner=NOT_FOUND)),  # not a reviewer of this campaign
    "admin:review_decide": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(REVIEW_PAGE, FORBIDDEN, owner=NOT_FOUND),
        data=lambda w: {"items": [w.item], "decision": "keep"},
    ),
    "admin:review_report": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    "admin:review_report_csv": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    # The applications' API: its key header authenticates, never a session cookie, so CSRF does not apply
    "api_access_check": Route(
        get=alike(NOT_ALLOWED),
        post=alike(HTTPStatus.UNAUTHORIZED),
        data=lambda w: {"token": "x", "application": w.app_name},
        csrf=False,
    ),
    "api_revocations": Route(get=alike(HTTPStatus.UNAUTHORIZED), post=alike(NOT_ALLOWED), csrf=False),
    "api_events": Route(get=alike(HTTPStatus.UNAUTHORIZED), post=alike(NOT_ALLOWED), csrf=False),
    "api_events_poll": Route(
        get=alike(NOT_ALLOWED), post=alike(HTTPStatus.UNAUTHORIZED), data=lambda w: {"ack": []}, csrf=False
    ),
    "events_jwks": Route(get=alike(OK)),
    # Event subscriptions: administrators only
    "admin:accounts_subscription_changelist": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    "admin:accounts_subscription_add": Route(
        get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, OK, owner=FORBIDDEN),  # the page showing the secret once
        data=lambda w: {"application": w.app_name, "format": "poll", "url": ""},
    ),
    "admin:accounts_subscription_change": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    "unnamed admin/accounts/subscription/<path:object_id>/": Route(get=staff_only(SUB_PAGE, SUB_PAGE, owner=SUB_PAGE)),
    "admin:accounts_subscription_history": Route(get=staff_only(SUB_PAGE, SUB_PAGE, owner=SUB_PAGE)),
    "admin:accounts_subscription_delete": Route(
        get=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        post=staff_only(FORBIDDEN, FORBIDDEN, owner=FORBIDDEN),
        data=lambda w: {"post": "yes"},
    ),
    "admin:accounts_subscription_export": Route(get=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)),
    "admin:accounts_subscription_key_rotate": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED), post=staff_only(FORBIDDEN, SUBS, owner=FORBIDDEN)
    ),
    "admin:accounts_subscription_rotate": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED), post=staff_only(FORBIDDEN, OK, owner=FORBIDDEN)
    ),
    "admin:accounts_subscription_pause": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, SUB_PAGE, owner=FORBIDDEN),
    ),
    "admin:accounts_subscription_resume": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, SUB_PAGE, owner=FORBIDDEN),
    ),
    "admin:accounts_subscription_remove": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED), post=staff_only(FORBIDDEN, SUBS, owner=FORBIDDEN)
    ),
    "admin:accounts_subscription_replay": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, SUB_PAGE, owner=FORBIDDEN),
        data=lambda w: {"event": str(w.outbox_event)},
    ),
    "admin:accounts_subscription_resend": Route(
        get=staff_only(NOT_ALLOWED, NOT_ALLOWED, owner=NOT_ALLOWED),
        post=staff_only(FORBIDDEN, SUB_PAGE, owner=FORBIDDEN),
    ),
}

# --- The URLconf ------------------------------------------------------------------------------------------


def walk(patterns, prefix: str = "", namespace: str = ""):
    """Yield (name, pattern) for every route under these patterns, into every include and the admin site."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            route = prefix + str(pattern.pattern)
            yield (namespace + pattern.name if pattern.name else f"unnamed {route}"), route


FOUND = dict(walk(get_resolver().url_patterns))
WRITES = sorted(name for name, route in ROUTES.items() if route.post and route.csrf)


def test_every_route_of_the_urlconf_is_declared():
    assert sorted(set(FOUND) - set(ROUTES)) == [], "declare these routes in ROUTES"
    assert sorted(set(ROUTES) - set(FOUND)) == [], "these declared routes no longer exist"


# --- The world the sweep runs in ---------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def shared_pool():
    """One emulated pool for the whole module, bootstrapped once, with the two staff accounts.

    Safe to share: no route changes these staff accounts (staff routes act on the test's own target user),
    and each test makes its own target user.
    """
    with mock_aws():
        with override_settings(PORTAL_ADMIN_EMAIL=""):
            report = bootstrap()
        with override_settings(
            COGNITO_USER_POOL_ID=report.pool_id,
            COGNITO_APP_CLIENT_ID=report.client_id,
            COGNITO_APP_CLIENT_SECRET=report.client_secret,
        ):
            cognito_user("admin@example.com", staff="admin", name="Ada Admin")
            cognito_user("desk@example.com", staff="helpdesk", name="Hal Desk")
            cognito_user("plain@example.com")
            cognito_user("owner@example.com", staff="", name="Olive Owner")  # owns each test's application
            yield report


_numbers = itertools.count()


def cognito_user(email: str, *, staff: str = "", name: str = "", apps=()) -> cognito.User:
    """Create a confirmed pool user (role A1 unless staff) with the staff password."""
    role = dict.fromkeys(roles.role_attributes(), "0") if staff else roles.attributes_for(roles.Role("a", 1))
    user = cognito.user_create(
        email, {"name": name or email.split("@")[0], **role}, temporary_password=STAFF_PASSWORD, send_invitation=False
    )
    cognito.user_set_password(email, STAFF_PASSWORD, permanent=True)
    for group in [roles.group_for_application(app) for app in apps] + ([roles.staff_groups()[staff]] if staff else []):
        cognito.user_add_to_group(email, group)
    return user


@dataclass
class World:
    """The real objects routes are built with: a target user of this test, an audit event."""

    sub: str
    email: str
    event: int
    content_type: int
    app: int
    app_name: str
    key_id: str
    job: int = 0  # the administrator's import preview, made once they have signed in
    subscription: int = 0  # the scratch application's event subscription, with one delivery
    delivery: int = 0
    outbox_event: int = 0
    campaign: int = 0  # an access review of the scratch application by the help desk, made then too
    item: int = 0  # its one item: the target user's scratch access

    def url(self, name: str) -> str:
        """Return a URL of the route, its parameters filled with these objects."""
        route = FOUND[name]
        kinds = {"auditevent": self.event, "application": self.app, "bulkjob": self.job}
        object_id = {**kinds, "subscription": self.subscription}.get(
            re.search(r"accounts/(\w+)/", route + "accounts/x/").group(1), self.sub
        )
        values = {
            "sub": self.sub,
            "object_id": str(object_id),
            "content_type_id": str(self.content_type),
            "app_label": "accounts",
            "url": "no-such-page/",
            "pk": str(self.subscription if "accounts/subscription/" in route else self.app),
            "delivery": str(self.delivery),
            "key_id": self.key_id,
            "job_id": str(self.job),
            "campaign_id": str(self.campaign),
        }
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], FOUND[name])
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)
        return "/" + path.replace("^", "").replace("$", "")

    def ids(self) -> dict:
        """Return the ids an answer may name."""
        return {"sub": self.sub, "event": self.event, "app": self.app, "job": self.job, "campaign": self.campaign}

    def expected(self, answer, here: str):
        """Return the answer with this world's objects filled in."""
        return (
            answer.format(
                sub=self.sub,
                event=self.event,
                app=self.app,
                job=self.job,
                subscription=self.subscription,
                campaign=self.campaign,
                here=quote(here, safe="/"),
            )
            if isinstance(answer, str)
            else answer
        )


@pytest.fixture
def world(db, monkeypatch) -> World:
    """A fresh target user holding A1 and billing, in the directory, and an audit event; TOTP checked."""
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
    number = next(_numbers)
    application = Application.objects.create(
        name=f"scratch-{number}", description="Scratch", synced_at=timezone.now()
    )  # its own, so deleting it harms nobody
    cognito.group_create(roles.group_for_application(application.name))
    key = api_keys.make()
    ApiKey.objects.create(application=application, key_id=key.key_id, digest=key.digest, created_by="setup")
    email = f"alice.{number}@example.com"
    alice = cognito_user(email, apps=["billing", application.name], name="Alice Liddell")
    index_user(alice)
    owner_group = roles.owner_group(application.name)
    cognito.group_create(owner_group)
    cognito.user_add_to_group("owner@example.com", owner_group)
    event = audit_record(
        actor="setup", action="test", target=email, target_sub=alice.sub, applications=[application.name]
    )
    subscription = Subscription.objects.create(
        application=application, format=Subscription.POLL, secret="whsec_c2V0dXA=", created_by="setup"
    )
    change = outbox.outbox_emit(
        action="role_change", sub=alice.sub, applications=[application.name], before={}, after={}, actor="setup"
    )
    return World(
        subscription=subscription.pk,
        delivery=Delivery.objects.get(event=change).pk,
        outbox_event=change.pk,
        sub=alice.sub,
        email=email,
        event=event.pk,
        app=application.pk,
        app_name=application.name,
        key_id=key.key_id,
        content_type=ContentType.objects.get_for_model(DirectoryEntry).pk,
    )


def signed_in(email: str, *, enforce_csrf_checks: bool = False) -> Client:
    """Return a client signed in through the portal's form, as a person would."""
    client = Client(raise_request_exception=False)
    response = client.post(reverse("accounts:login"), {"email": email, "password": STAFF_PASSWORD})
    assert response.status_code == HTTPStatus.FOUND and response.url == HOME
    if not enforce_csrf_checks:
        return client
    strict = Client(enforce_csrf_checks=True, raise_request_exception=False)
    strict.cookies = client.cookies  # the same signed-in session, now held to the CSRF rules
    return strict


@pytest.fixture
def personas(world) -> dict[str, Client]:
    """A client per persona: the non-staff user can only exist locally (Cognito refuses them at sign-in)."""
    nonstaff = Client(raise_request_exception=False)
    nonstaff.force_login(local_staff(cognito.user_get("plain@example.com"), None))
    clients = {
        "anonymous": Client(raise_request_exception=False),
        "nonstaff": nonstaff,
        "helpdesk": signed_in("desk@example.com"),
        "owner": signed_in("owner@example.com"),
        "admin": signed_in("admin@example.com"),
    }
    upload = csv_file(world)["file"]
    world.job = imports.import_preview(
        actor=User.objects.get(email="admin@example.com"), binary=upload.file, name=upload.name, size=upload.size
    ).pk
    campaign = review_campaigns.campaign_start(
        actor=User.objects.get(email="admin@example.com"),
        name="Sweep",
        applications=[world.app_name],
        reviewers=[User.objects.get(email="desk@example.com")],
        owners_review=False,
        deadline=timezone.now() + timedelta(days=7),
        unanswered="keep",
    )
    world.campaign, world.item = campaign.pk, campaign.items.get().pk
    return clients


# --- What a request changed --------------------------------------------------------------------------------

COGNITO_READS = {
    "AdminGetUser",
    "AdminListGroupsForUser",
    "ListUsers",
    "ListUsersInGroup",
    "ListGroups",
    "GetGroup",
    "DescribeUserPool",
    "DescribeUserPoolClient",
    "ListUserPoolClients",
}
# A page that enrols an authenticator must get a secret to show; the account changes only at the code.
GET_MAY_ALSO_CALL = {"AssociateSoftwareToken"}
INDEX_TABLES = ("accounts_directoryentry", "accounts_directorygrant")  # a user page refreshes its row
INDEX_TABLES += ("accounts_quotabucket",)  # and its Cognito calls count against their quota buckets


class Changes:
    """Record the Cognito calls and the database writes of the requests made inside `with`."""

    def __enter__(self):
        self._calls = cognito.count_calls()
        self.calls = self._calls.__enter__()
        self._queries = CaptureQueriesContext(connection)
        self._queries.__enter__()
        self.audit_before = AuditEvent.objects.count()
        return self

    def __exit__(self, *exc):
        self._queries.__exit__(*exc)
        self._calls.__exit__(*exc)
        self.audit_after = AuditEvent.objects.count()

    def writes(self, *, allowed_tables=()) -> list[str]:
        """Return the SQL writes made, except to the session table and `allowed_tables`."""
        writes = [
            q["sql"]
            for q in self._queries.captured_queries
            if re.match(r"\s*(INSERT|UPDATE|DELETE|REPLACE)", q["sql"], re.IGNORECASE)
        ]
        return [sql[:120] for sql in writes if not any(f'"{t}"' in sql for t in ("django_session", *allowed_tables))]

    def cognito_writes(self, *, allowed=frozenset()) -> dict:
        """Return the Cognito calls made that are not reads (nor `allowed`)."""
        return {op: n for op, n in self.calls.items() if op not in COGNITO_READS | allowed}


STRICT_CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}  # no 'unsafe-inline' anywhere
# What that policy refuses in a page: a script without src, a style element or attribute, an event handler.
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def mismatch(method: str, persona: str, response, answer, here: str, world: World) -> list[str]:
    """Return what is wrong with one answer: status, redirect target, frame header."""
    problems = []
    if response.get("X-Frame-Options") != "DENY":
        problems.append(f"{method} as {persona}: frames not denied")
    if {part.strip() for part in response.get("Content-Security-Policy", "").split(";")} != STRICT_CSP:
        problems.append(f"{method} as {persona}: Content-Security-Policy {response.get('Content-Security-Policy')!r}")
    if "camera=()" not in response.get("Permissions-Policy", ""):
        problems.append(f"{method} as {persona}: no Permissions-Policy turning the camera off")
    html = response.get("Content-Type", "").startswith("text/html") and not response.streaming
    if html and (inline := INLINE.findall(response.content.decode())):
        problems.append(f"{method} as {persona}: inline script or style the policy refuses: {inline}")
    wanted = world.expected(answer, here)
    if isinstance(wanted, int):
        if response.status_code != wanted:
            problems.append(f"{method} as {persona}: {response.status_code}, declared {wanted}")
        return problems
    location = response.get("Location", "")
    matches = location.startswith(wanted[:-1]) if wanted.endswith("*") else location == wanted
    if response.status_code != HTTPStatus.FOUND or not matches:
        problems.append(f"{method} as {persona}: {response.status_code} to {location!r}, declared {wanted!r}")
    return problems


# --- The sweep ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FOUND))
def test_every_route_answers_each_persona_as_declared_no_get_writes_and_every_forged_write_is_audited(
    name, world, personas
):
    route, url = ROUTES[name], world.url(name)
    problems = []
    for persona, answer in zip(PERSONAS, route.get, strict=False):
        with Changes() as changes:
            response = personas[persona].get(url)
        problems += mismatch("GET", persona, response, answer, url, world)
        if changes.cognito_writes(allowed=GET_MAY_ALSO_CALL) or changes.audit_after != changes.audit_before:
            problems.append(
                f"GET as {persona} changed something: {dict(changes.calls)}, audit "
                f"{changes.audit_before}->{changes.audit_after}"
            )
        problems += [f"GET as {persona} wrote {sql}" for sql in changes.writes(allowed_tables=INDEX_TABLES)]
    for persona, answer in zip(PERSONAS, route.post or (), strict=False):  # the most privileged last
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = personas[persona].post(url, route.data(world) if route.data else {})
        problems += mismatch("POST", persona, response, answer, url, world)
        outcomes = set(AuditEvent.objects.filter(id__gt=last).values_list("outcome", flat=True))
        if response.status_code == FORBIDDEN and persona != "anonymous" and AuditEvent.DENIED not in outcomes:
            problems.append(f"POST as {persona}: a forged write answered 403 but left no denied audit event")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", WRITES)
def test_every_state_changing_route_refuses_a_post_without_its_csrf_token(name, world):
    url, data = world.url(name), ROUTES[name].data(world) if ROUTES[name].data else {}
    for persona, client in {
        "anonymous": Client(enforce_csrf_checks=True),
        "admin": signed_in("admin@example.com", enforce_csrf_checks=True),
    }.items():
        with Changes() as changes:
            response = client.post(url, data)
        if persona == "anonymous" and response.status_code == HTTPStatus.FOUND:  # sent to sign in first
            assert response["Location"].startswith(SIGN_IN + "?next=")
        else:
            assert response.status_code == HTTPStatus.FORBIDDEN, persona
            assert b"CSRF" in response.content and response["X-Frame-Options"] == "DENY"
        assert dict(changes.calls) == {} and changes.writes() == [], persona
        assert changes.audit_after == changes.audit_before


# Every audited action, and the routes through which a person attempts it.
AUDITED_BY = {
    "sign_in": ["accounts:login", "accounts:login_new_password", "accounts:login_mfa", "accounts:login_mfa_setup"],
    "password_set_first": ["accounts:login_new_password"],
    "mfa_enable": ["accounts:login_mfa_setup", "accounts:account_mfa"],
    "password_forgot": ["accounts:password_forgot"],
    "password_reset_confirm": ["accounts:password_forgot_confirm"],
    "password_change": ["accounts:account_password"],
    "sign_out": ["accounts:logout", "admin:logout"],
    "sign_out_everywhere": ["accounts:account_sign_out_everywhere"],
    "access_set": ["admin:accounts_directoryentry_access", "admin:accounts_application_member_remove"],
    "role_change": ["admin:accounts_directoryentry_role"],
    "user_invite": ["admin:accounts_directoryentry_add"],
    "user_disable": ["admin:accounts_directoryentry_disable"],
    "user_enable": ["admin:accounts_directoryentry_enable"],
    "user_reset_password": ["admin:accounts_directoryentry_reset_password"],
    "user_sign_out": ["admin:accounts_directoryentry_sign_out"],
    "user_delete": ["admin:accounts_directoryentry_delete"],
    "user_resend_invitation": ["admin:accounts_directoryentry_resend_invitation"],
    "staff_grant": ["admin:staff_grant"],
    "staff_remove": ["admin:staff_remove"],
    "owner_assign": ["admin:accounts_application_owner_assign"],
    "owner_remove": ["admin:accounts_application_owner_remove"],
    "directory_sync": ["admin:accounts_directoryentry_refresh"],  # run by the worker the refresh queues
    "directory_sync_request": ["admin:accounts_directoryentry_refresh"],
    "application_create": ["admin:accounts_application_add"],
    "application_update": ["admin:accounts_application_update"],
    "application_delete": ["admin:accounts_application_delete"],
    "applications_refresh": ["admin:accounts_application_refresh"],
    "api_key_issue": ["admin:accounts_application_key_issue"],
    "api_key_revoke": ["admin:accounts_application_key_revoke"],
    "access_grant": [
        "admin:accounts_directoryentry_changelist",
        "admin:accounts_directoryentry_access_until",
        "admin:accounts_application_member_add",
    ],
    "access_extend": ["admin:accounts_directoryentry_access_end"],
    "access_expire": [],  # the sweep's, on the workers: no route
    "role_raise": ["admin:accounts_directoryentry_role_raise"],
    "role_raise_end": [],  # the sweep's
    "access_revoke": ["admin:accounts_directoryentry_changelist"],
    "bulk_import": ["admin:accounts_bulkjob_apply"],  # written as f"bulk_{job.kind}"
    "bulk_action": ["admin:accounts_directoryentry_changelist"],
    "bulk_resume": ["admin:accounts_bulkjob_resume"],
    "bulk_cancel": ["admin:accounts_bulkjob_cancel"],
    "subscription_create": ["admin:accounts_subscription_add"],
    "subscription_rotate": ["admin:accounts_subscription_rotate"],
    "subscription_activate": ["admin:accounts_subscription_pause", "admin:accounts_subscription_resume"],
    "subscription_delete": ["admin:accounts_subscription_remove"],
    "delivery_resend": ["admin:accounts_subscription_resend"],
    "deliveries_replay": ["admin:accounts_subscription_replay"],
    "signing_key_rotate": ["admin:accounts_subscription_key_rotate"],
    "review_start": ["admin:review_start"],
    "review_decide": ["admin:review_decide"],
    # written by the workers' tick, which starting a campaign queues
    "review_reassign": ["admin:review_start"],
    "review_remind": ["admin:review_start"],
    "review_close": ["admin:review_start"],
    "review_expire": ["admin:review_start"],
    "review_resume": ["admin:review_start"],
}
ACTION = re.compile(r'(?:action=|_audit\(request, )"([a-z_]+)"(?: if \w+ else "([a-z_]+)")?')


def test_every_audited_write_has_its_routes_in_the_sweep():
    code = "".join(
        path.read_text() for path in Path(accounts.__file__).parent.rglob("*.py") if "management" not in path.parts
    )
    audited = {name for match in ACTION.findall(code) for name in match if name}
    assert audited <= set(AUDITED_BY), "declare the routes of every audited action in AUDITED_BY"
    assert {route for routes in AUDITED_BY.values() for route in routes} <= set(WRITES)


# --- Escaping ---------------------------------------------------------------------------------------------------

PAYLOADS = {
    "name": '<script>alert("name")</script>',
    "email": "x<svg/onload=alert(1)>@example.com",
    "attribute": "<img src=x onerror=alert('attribute')>",
    "description": "<iframe src=javascript:alert('app')>",
    "staff name": "<b onmouseover=alert('staff')>Eve</b>",
    "audit actor": "<script>alert('actor')</script>",
    "audit error": "</td><script>alert('error')</script>",
    "audit before": "<script>alert('before')</script>",
    "search": "<script>alert('q')</script>",
    "filter": '"><script>alert("filter")</script>',
    "application sent": "<script>alert('sent')</script>",
    "csv name": "<script>alert('csv')</script>",
    "csv email": "<img src=x onerror=alert('csvmail')>@example.com",
    "csv file name": "<svg onload=alert('file')>.csv",
}


@pytest.fixture
def hostile(db) -> dict:
    """A pool where every attribute a person controls holds script: a user, a staff member, audit events."""
    Application.objects.filter(name="billing").update(description=PAYLOADS["description"])
    mallory = cognito_user(f"mallory.{next(_numbers)}@example.com", apps=["billing"], name=PAYLOADS["name"])
    payloads = {**PAYLOADS, "email": f"x{next(_numbers)}" + PAYLOADS["email"]}  # an email can be held only once
    cognito.user_update_attributes(mallory.sub, {"email": payloads["email"], "custom:nickname": payloads["attribute"]})
    index_user(mallory)
    staff = f"eve.{next(_numbers)}@example.com"
    cognito_user(staff, staff="admin", name=PAYLOADS["staff name"])
    event = audit_record(
        actor=PAYLOADS["audit actor"],
        action="role_change",
        target=payloads["email"],
        target_sub=mallory.sub,
        before={"role": PAYLOADS["audit before"]},
        after={"role": "b1"},
        outcome=AuditEvent.FAILURE,
        error=PAYLOADS["audit error"],
    )
    return {"sub": mallory.sub, "event": event.pk, "staff": staff, "payloads": payloads}


def hostile_import(staff: str) -> int:
    """Upload a CSV file whose name and cells hold script, as the staff member; return the preview job."""
    rows = [
        imports.HEADER,
        f'csv.{next(_numbers)}@example.com,"{PAYLOADS["csv name"]}",b,1,billing',
        f'"{PAYLOADS["csv email"]}",Somebody,b,1,billing',
    ]
    content = ("\n".join(rows) + "\n").encode()
    return imports.import_preview(
        actor=User.objects.get(email=staff),
        binary=io.BytesIO(content),
        name=PAYLOADS["csv file name"],
        size=len(content),
    ).pk


def hostile_pages(sub: str, event: int, job: int) -> dict[str, tuple[str, set[str]]]:
    """Return the pages that show the payloads: url, and the payloads each must show (escaped)."""
    user_page = reverse("admin:accounts_directoryentry_change", args=[sub])
    billing = Application.objects.get(name="billing").pk
    audit = reverse("admin:accounts_auditevent_changelist")
    return {
        "home": (reverse("home"), {"staff name"}),
        "account": (reverse("accounts:account"), {"staff name"}),
        "directory": (USERS, {"name", "email"}),
        "directory search": (USERS + "?q=" + quote(PAYLOADS["search"]), {"search"}),
        "user page": (user_page, {"name", "email", "attribute", "description", "audit actor", "audit error"}),
        "delete page": (reverse("admin:accounts_directoryentry_delete", args=[sub]), {"email"}),
        "audit log": (audit, {"audit actor", "audit error", "email"}),
        "audit log filtered": (audit + "?actor=" + quote(PAYLOADS["filter"]), {"filter"}),
        "audit event": (
            reverse("admin:accounts_auditevent_change", args=[event]),
            {"audit actor", "audit error", "email"},
        ),
        "invite form": (reverse("admin:accounts_directoryentry_add"), {"description"}),
        "applications": (APPS, {"description"}),
        "import preview": (
            reverse("admin:accounts_bulkjob_change", args=[job]),
            {"csv email", "csv file name"},
        ),  # a new row shows its email and plan
        "bulk jobs": (reverse("admin:accounts_bulkjob_changelist"), {"csv file name"}),
        "access matrix": (reverse("admin:accounts_directoryentry_access_matrix"), {"email"}),
        "access matrix search": (
            reverse("admin:accounts_directoryentry_access_matrix") + "?q=" + quote(PAYLOADS["search"]),
            {"search"},
        ),
        "access dashboard": (reverse("admin:accounts_directoryentry_access_dashboard"), set()),
        "application page": (reverse("admin:accounts_application_change", args=[billing]), {"description", "name"}),
    }


def assert_escaped(page: str, shown: set[str], where: str, payloads: dict) -> None:
    """Check that no payload appears raw and that the expected ones appear escaped."""
    for label, payload in payloads.items():
        assert payload not in page, f"{label} unescaped on {where}"
    for label in shown:
        assert escape(payloads[label]) in page, f"{label} not shown on {where}"


def test_script_in_every_attribute_a_person_controls_comes_out_escaped(hostile):
    admin = signed_in(hostile["staff"])
    job = hostile_import(hostile["staff"])
    for where, (url, shown) in hostile_pages(hostile["sub"], hostile["event"], job).items():
        response = admin.get(url)
        assert response.status_code == HTTPStatus.OK, where
        assert_escaped(response.content.decode(), shown, where, hostile["payloads"])
    # Before/after are JSON in the audit event's page: the key survives, the markup does not.
    event_page = admin.get(reverse("admin:accounts_auditevent_change", args=[hostile["event"]])).content.decode()
    assert "alert(&#x27;before&#x27;)" in event_page or "alert(\\u0027before" in event_page


def test_script_sent_in_a_form_is_refused_and_echoed_escaped(hostile):
    admin = signed_in(hostile["staff"])
    url = reverse("admin:accounts_directoryentry_access", args=[hostile["sub"]])
    page = admin.post(url, {"applications": [PAYLOADS["application sent"]]}, follow=True).content.decode()
    assert "Unknown application: " + escape(PAYLOADS["application sent"]) in page
    assert PAYLOADS["application sent"] not in page
    invite = admin.post(
        reverse("admin:accounts_directoryentry_add"),
        {"email": "not-an-email" + PAYLOADS["search"], "name": PAYLOADS["name"], "role": "b", "level": "1"},
    )
    assert invite.status_code == HTTPStatus.BAD_REQUEST
    assert_escaped(invite.content.decode(), {"name"}, "invite form sent back", hostile["payloads"])


# --- Where `next` may lead ---------------------------------------------------------------------------------------

OFF_SITE = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "http:evil.example",
    "https:/evil.example",
    " //evil.example",
    "\t//evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F%2Fevil.example",
    "http://testserver@evil.example/",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_never_leads_off_site_from_either_sign_in_page(target, client):
    admin_login = client.get(reverse("admin:login"), {"next": target})
    hop = admin_login["Location"]
    assert hop.startswith("/accounts/login/?next=/")  # the admin site passes on only a local target
    client.get(SIGN_IN, {"next": target})
    response = client.post(SIGN_IN, {"email": "admin@example.com", "password": STAFF_PASSWORD})
    assert response.status_code == HTTPStatus.FOUND
    where = urlsplit(response.url)
    assert not where.scheme and not where.netloc and re.match(r"/(?![/\\])", where.path), response.url


def test_next_on_this_site_is_followed(client):
    client.get(SIGN_IN, {"next": "/admin/accounts/directoryentry/?q=ali"})
    response = client.post(SIGN_IN, {"email": "admin@example.com", "password": STAFF_PASSWORD})
    assert response.url == "/admin/accounts/directoryentry/?q=ali"


# --- Found by the sweep -------------------------------------------------------------------------------------------


def test_the_admin_sites_sign_out_is_the_portals_it_revokes_and_audits():
    admin = signed_in("admin@example.com")
    refresh = admin.session["cognito"]["refresh"]
    response = admin.post(reverse("admin:logout"))
    assert response.status_code == HTTPStatus.FOUND and response.url == SIGN_IN
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_refresh(cognito.user_get("admin@example.com").sub, refresh)
    assert AuditEvent.objects.filter(action="sign_out", actor="admin@example.com", outcome="success").exists()


def test_a_reset_code_for_an_unknown_email_answers_like_a_wrong_code(client, settings):
    settings.COGNITO_EMBEDDED = True  # the emulator checks codes only in embedded mode
    answers = []
    for email in ("nobody@example.com", "plain@example.com"):
        response = client.post(
            reverse("accounts:password_forgot_confirm"), {"email": email, "code": "123456", **NEW_PASSWORD}
        )
        answers.append((response.status_code, response.context["form"].non_field_errors()))
    assert answers[0] == answers[1] and answers[0][0] == HTTPStatus.OK  # no 500, nothing to tell them apart


def test_the_view_on_site_shortcut_is_404_for_every_content_type_and_id():
    desk = signed_in("desk@example.com")
    answers = {
        (kind.app_label, kind.model, object_id): desk.get(f"/admin/r/{kind.pk}/{object_id}/").status_code
        for kind in ContentType.objects.all()
        for object_id in ("1", "not-an-id")
    }
    assert set(answers.values()) == {HTTPStatus.NOT_FOUND}, {key: code for key, code in answers.items() if code != 404}


def test_no_template_holds_inline_script_or_style():
    templates = Path(accounts.__file__).resolve().parent.parent / "templates"
    found = {str(path.relative_to(templates)): INLINE.findall(path.read_text()) for path in templates.rglob("*.html")}
    assert len(found) > 30 and {name: hits for name, hits in found.items() if hits} == {}
