"""The writes of user administration, end to end through the views, checked in Cognito itself."""

from http import HTTPStatus

import jwt
import pytest
from django.contrib.messages import get_messages

from accounts import cognito
from accounts.directory import selectors, services, views
from accounts.models import AuditEvent, DirectoryEntry
from tests.conftest import USER_PASSWORD
from tests.faults import cognito_fault
from tests.support.staff import index_user, user_url

CONFIRMED = {"confirm": "on"}  # what the confirmation page sends

pytestmark = pytest.mark.django_db


def said(response) -> list[str]:
    """Return the messages the response's request left for the next page, and clear them."""
    response.client.cookies.pop("messages", None)
    return [str(message) for message in get_messages(response.wsgi_request)]


def claims(token: str) -> dict:
    """Return a JWT's claims (signature not checked: the test only reads what Cognito put in)."""
    return jwt.decode(token, options={"verify_signature": False})


# --- Role ---------------------------------------------------------------------------------------


def test_role_change_reaches_a_fresh_sign_in_and_the_old_refresh_token_is_refused(admin_client, alice):
    before = cognito.auth_password("alice@example.com", USER_PASSWORD)
    assert claims(before.id_token)["custom:role_a"] == "1"
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "3", "shown": "a1"})
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == user_url("change", alice.sub)
    assert dict(calls) == {"AdminUpdateUserAttributes": 1, "AdminUserGlobalSignOut": 1}
    assert said(response) == [
        "Role changed to B3. The user was signed out everywhere, so every application gets "
        "the new role at its next sign-in or token refresh."
    ]
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_refresh(alice.sub, before.refresh_token)
    fresh = claims(cognito.auth_password("alice@example.com", USER_PASSWORD).id_token)
    assert (fresh["custom:role_a"], fresh["custom:role_b"], fresh["custom:role_c"]) == ("0", "3", "0")
    entry = selectors.entry_get(alice.sub)
    assert (entry.role, entry.level) == ("b", 3)
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.before, event.after) == (
        "role_change",
        "success",
        {"role": "a1"},
        {"role": "b3", "sessions_revoked": True},
    )
    assert (event.actor, event.target, event.target_sub, event.client_ip) == (
        "admin@example.com",
        "alice@example.com",
        alice.sub,
        "127.0.0.1",
    )


def test_helpdesk_changes_a_role(helpdesk_client, alice):
    response = helpdesk_client.post(user_url("role", alice.sub), {"role": "c", "level": "2", "shown": "a1"})
    assert response.status_code == HTTPStatus.FOUND
    assert cognito.user_get(alice.sub).attributes["custom:role_c"] == "2"
    assert AuditEvent.objects.get().actor == "desk@example.com"


def test_a_stale_role_form_is_refused_and_shows_the_current_role(admin_client, helpdesk_client, alice, admin_user):
    # Another staff member changes the role after the administrator's page was shown.
    page = admin_client.get(user_url("change", alice.sub)).content.decode()
    assert 'name="shown" value="a1"' in page
    services.role_change(actor=admin_user, sub=alice.sub, role="c", level=1, shown="a1")
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "2", "shown": "a1"})
    assert dict(calls) == {"AdminListGroupsForUser": 1}  # signed in as help desk last: the live staff check
    assert said(response) == [services.MESSAGES["stale_role"].format(current="C1")]
    assert cognito.user_get(alice.sub).attributes["custom:role_c"] == "1"
    assert cognito.user_get(alice.sub).attributes["custom:role_b"] == "0"
    stale = AuditEvent.objects.filter(outcome="failure").get()
    assert (stale.action, stale.before) == ("role_change", {"role": "c1"})


def test_the_same_role_again_changes_nothing(admin_client, alice):
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("role", alice.sub), {"role": "a", "level": "1", "shown": "a1"})
    assert not calls
    assert said(response) == ["The user already holds A1: nothing was changed."]


def test_a_role_change_repairs_drift(admin_client, make_cognito_user):
    user = make_cognito_user("drift@example.com", role=("a", 2))
    cognito.user_update_attributes(user.sub, {"custom:role_b": "1"})  # two roles: drift
    entry = index_user(user)
    assert entry.role_key == "several"
    admin_client.post(user_url("role", user.sub), {"role": "b", "level": "1", "shown": "several"})
    attributes = cognito.user_get(user.sub).attributes
    assert [attributes[f"custom:role_{name}"] for name in "abc"] == ["0", "1", "0"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"role": "z", "level": "1"}, "Unknown role 'z'; the roles are a, b, c."),
        ({"role": "b", "level": "4"}, "Level must be a whole number from 1 to 3."),
        ({"role": "b", "level": "0"}, "Level must be a whole number from 1 to 3."),
        ({"role": "b", "level": "two"}, "Level must be a whole number from 1 to 3."),
        ({"role": "", "level": ""}, "Unknown role ''; the roles are a, b, c."),
    ],
)
def test_bad_role_input_is_refused_with_nothing_changed(data, message, admin_client, alice):
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("role", alice.sub), {**data, "shown": "a1"})
    assert said(response) == [message]
    assert not calls
    assert selectors.entry_get(alice.sub).role_key == "a1"
    assert AuditEvent.objects.get().outcome == AuditEvent.FAILURE


def test_a_user_who_vanished_since_the_page_was_shown(admin_client, alice):
    admin_client.get(user_url("change", alice.sub))
    cognito.user_delete(alice.sub)  # someone deletes the user in Cognito meanwhile
    response = admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "1", "shown": "a1"})
    assert said(response) == [services.MESSAGES["vanished"]]
    entry = selectors.entry_get(alice.sub)
    assert entry is not None and entry.role_key == "a1"  # the index is left as it was
    assert AuditEvent.objects.get().error == services.MESSAGES["vanished"]
    page = admin_client.get(user_url("change", alice.sub))  # opening the page again drops the row
    assert page.status_code == HTTPStatus.NOT_FOUND and selectors.entry_get(alice.sub) is None


def test_role_written_but_sign_out_failing_is_reported_and_audited(admin_client, alice, no_backoff):
    session = cognito.auth_password("alice@example.com", USER_PASSWORD)
    with cognito_fault("InternalErrorException", operations={"AdminUserGlobalSignOut"}, status=500):
        response = admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "1", "shown": "a1"})
    assert cognito.user_get(alice.sub).attributes["custom:role_b"] == "1"
    assert "could not be signed out" in said(response)[0]
    event = AuditEvent.objects.get()
    assert event.outcome == "failure" and event.after == {"role": "b1", "sessions_revoked": False}
    assert cognito.auth_refresh(alice.sub, session.refresh_token).signed_in  # indeed not revoked


# --- Applications -------------------------------------------------------------------------------


def test_grant_and_revoke_in_one_submit_group_by_group_then_sign_out(admin_client, alice):
    session = cognito.auth_password("alice@example.com", USER_PASSWORD)
    with cognito.count_calls() as calls:
        response = admin_client.post(
            user_url("access", alice.sub), {"applications": ["crm", "hr", "docs"], "confirm": "on"}
        )
    assert dict(calls) == {"AdminAddUserToGroup": 3, "AdminRemoveUserFromGroup": 1, "AdminUserGlobalSignOut": 1}
    assert said(response) == [
        "Granted crm.",
        "Granted docs.",
        "Granted hr.",
        "Revoked billing.",
        "The user was signed out everywhere, so no application keeps a revoked access past its next token refresh.",
    ]
    assert sorted(cognito.user_groups(alice.sub)) == ["app-crm", "app-docs", "app-hr"]
    assert sorted(g.application for g in selectors.entry_get(alice.sub).grants.all()) == ["crm", "docs", "hr"]
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_refresh(alice.sub, session.refresh_token)
    event = AuditEvent.objects.get()
    assert event.before == {"applications": ["billing"]}
    assert event.after == {
        "applications": ["crm", "docs", "hr"],
        "granted": ["crm", "docs", "hr"],
        "revoked": ["billing"],
        "sessions_revoked": True,
    }


def test_a_grant_alone_leaves_the_sessions_open(admin_client, alice):
    session = cognito.auth_password("alice@example.com", USER_PASSWORD)
    with cognito.count_calls() as calls:
        response = admin_client.post(
            user_url("access", alice.sub), {"applications": ["billing", "crm"], "confirm": "on"}
        )
    assert dict(calls) == {"AdminAddUserToGroup": 1}
    assert said(response) == ["Granted crm."]
    assert "app-crm" in claims(cognito.auth_refresh(alice.sub, session.refresh_token).id_token)["cognito:groups"]
    assert "sessions_revoked" not in AuditEvent.objects.get().after


def test_revoked_but_sign_out_failing_is_reported_and_audited(admin_client, alice, no_backoff):
    session = cognito.auth_password("alice@example.com", USER_PASSWORD)
    with cognito_fault("InternalErrorException", operations={"AdminUserGlobalSignOut"}, status=500):
        response = admin_client.post(user_url("access", alice.sub), {"applications": [], "confirm": "on"})
    assert cognito.user_groups(alice.sub) == []
    messages = said(response)
    assert messages[0] == "Revoked billing."
    assert messages[1].startswith("Revoked billing, but revoking their sessions failed: ")
    assert messages[1].endswith("Use “Sign out everywhere” to finish.")
    event = AuditEvent.objects.get()
    assert event.outcome == "failure" and event.after["sessions_revoked"] is False
    assert "revoking their sessions failed" in event.error
    assert cognito.auth_refresh(alice.sub, session.refresh_token).signed_in  # indeed not revoked


def test_submitting_the_same_state_twice_changes_nothing(admin_client, alice):
    said(admin_client.post(user_url("access", alice.sub), {"applications": ["billing", "crm"], "confirm": "on"}))
    with cognito.count_calls() as calls:
        response = admin_client.post(
            user_url("access", alice.sub), {"applications": ["billing", "crm"], "confirm": "on"}
        )
    assert not calls
    assert said(response) == ["Nothing to change: the user already holds exactly these applications."]
    assert sorted(cognito.user_groups(alice.sub)) == ["app-billing", "app-crm"]


def test_the_second_of_three_grants_failing_is_reported_and_audited(admin_client, make_cognito_user, no_backoff):
    user = make_cognito_user("partial@example.com", apps=[])
    index_user(user)
    with cognito_fault("InternalErrorException", operations={"AdminAddUserToGroup"}, after=1, status=500):
        response = admin_client.post(
            user_url("access", user.sub), {"applications": ["billing", "crm", "hr"], "confirm": "on"}
        )
    assert cognito.user_groups(user.sub) == ["app-billing"]
    messages = said(response)
    assert messages[0] == "Granted billing."
    assert messages[1].startswith("Could not grant crm: ") and messages[1].endswith("Not applied: grant crm, grant hr.")
    assert [g.application for g in selectors.entry_get(user.sub).grants.all()] == ["billing"]
    event = AuditEvent.objects.get()
    assert event.outcome == "failure" and event.after["granted"] == ["billing"]
    assert event.after["not_applied"] == ["grant crm", "grant hr"] and "grant crm failed" in event.error


def test_unknown_application_is_refused_with_nothing_changed(admin_client, alice):
    with cognito.count_calls() as calls:
        response = admin_client.post(
            user_url("access", alice.sub), {"applications": ["crm", "payroll"], "confirm": "on"}
        )
    assert not calls
    assert said(response) == [services.MESSAGES["unknown_application"].format(names="payroll")]
    assert cognito.user_groups(alice.sub) == ["app-billing"]


def test_throttling_before_anything_was_applied_gives_the_busy_page(admin_client, alice, no_backoff):
    with cognito_fault("TooManyRequestsException") as failed:
        response = admin_client.post(user_url("access", alice.sub), {"applications": ["crm"], "confirm": "on"})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"Cognito is busy" in response.content
    assert len(failed) == 3  # retried with backoff, then given up
    assert AuditEvent.objects.get().outcome == "failure"
    assert [g.application for g in selectors.entry_get(alice.sub).grants.all()] == ["billing"]
    assert cognito.user_groups(alice.sub) == ["app-billing"]


def test_throttling_then_success_is_invisible(admin_client, alice, no_backoff):
    with cognito_fault("TooManyRequestsException", times=2) as failed:
        response = admin_client.post(
            user_url("access", alice.sub), {"applications": ["billing", "crm"], "confirm": "on"}
        )
    assert failed == ["AdminAddUserToGroup", "AdminAddUserToGroup"]
    assert said(response) == ["Granted crm."]
    assert sorted(cognito.user_groups(alice.sub)) == ["app-billing", "app-crm"]


def test_cognito_unreachable_gives_the_503_page(admin_client, alice, settings):
    settings.COGNITO_ENDPOINT_URL = "http://127.0.0.1:9"
    for response in [
        admin_client.get(user_url("change", alice.sub)),
        admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "1", "shown": "a1"}),
    ]:
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert b"Cognito cannot be reached" in response.content
    assert admin_client.get(user_url("changelist")).status_code == HTTPStatus.OK  # the index needs no Cognito
    assert selectors.entry_get(alice.sub).role_key == "a1"
    assert AuditEvent.objects.get().outcome == "failure"


# --- Account state ------------------------------------------------------------------------------


def test_disable_signs_out_and_enable_restores(admin_client, alice):
    session = cognito.auth_password("alice@example.com", USER_PASSWORD)
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("disable", alice.sub), CONFIRMED)
    # The target's groups are read live first: the last enabled administrator is never disabled.
    assert dict(calls) == {"AdminListGroupsForUser": 1, "AdminDisableUser": 1, "AdminUserGlobalSignOut": 1}
    assert said(response) == ["alice@example.com is disabled and signed out everywhere."]
    assert not cognito.user_get(alice.sub).enabled
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_refresh(alice.sub, session.refresh_token)
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_password("alice@example.com", USER_PASSWORD)
    admin_client.post(user_url("enable", alice.sub))
    assert cognito.user_get(alice.sub).enabled and selectors.entry_get(alice.sub).enabled
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["user_enable", "user_disable"]


def test_reset_password(admin_client, alice):
    response = admin_client.post(user_url("reset_password", alice.sub), CONFIRMED)
    assert said(response) == [
        "Cognito sent a password reset code to alice@example.com; the user sets a new password at next sign-in."
    ]
    assert cognito.user_get(alice.sub).status == "RESET_REQUIRED"


def test_reset_password_without_a_verified_email_says_so(admin_client, make_cognito_user):
    user = make_cognito_user("unverified@example.com")
    cognito.user_update_attributes(user.sub, {"email_verified": "false"})
    index_user(user)
    page = admin_client.get(user_url("change", user.sub)).content.decode()
    assert 'id="reset-unavailable"' in page and 'id="reset-password"' not in page
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("reset_password", user.sub), CONFIRMED)
    assert not calls
    assert said(response) == [services.MESSAGES["needs_verified_email"]]
    assert cognito.user_get(user.sub).status == "CONFIRMED"


def test_sign_out_everywhere_revokes_refresh_tokens(helpdesk_client, alice):
    session = cognito.auth_password("alice@example.com", USER_PASSWORD)
    response = helpdesk_client.post(user_url("sign_out", alice.sub), CONFIRMED)
    assert said(response) == ["alice@example.com is signed out everywhere: their refresh tokens are revoked."]
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_refresh(alice.sub, session.refresh_token)


def test_delete_needs_the_email_typed(admin_client, alice):
    assert admin_client.get(user_url("delete", alice.sub)).status_code == HTTPStatus.OK
    response = admin_client.post(user_url("delete", alice.sub), {"confirm": "alice@example.org"})
    assert response.status_code == HTTPStatus.OK
    assert said(response) == [services.MESSAGES["confirm_delete"]]
    assert cognito.user_get(alice.sub).email == "alice@example.com"
    response = admin_client.post(user_url("delete", alice.sub), {"confirm": " Alice@Example.com "})
    assert response["Location"] == user_url("changelist")
    with pytest.raises(cognito.UserNotFound):
        cognito.user_get(alice.sub)
    assert not DirectoryEntry.objects.filter(sub=alice.sub).exists()
    assert list(AuditEvent.objects.values_list("action", "outcome")) == [
        ("user_delete", "success"),
        ("user_delete", "failure"),
    ]


# --- Invitation ---------------------------------------------------------------------------------

INVITE = {
    "email": "New.Person@Example.com",
    "name": "New Person",
    "role": "b",
    "level": "2",
    "applications": ["crm", "hr"],
}


def test_invite_creates_the_user_with_role_and_applications(admin_client):
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("add"), INVITE)
    user = cognito.user_get("new.person@example.com")
    assert response["Location"] == user_url("change", user.sub)
    assert dict(calls) == {"AdminCreateUser": 1, "AdminAddUserToGroup": 2}
    assert user.status == "FORCE_CHANGE_PASSWORD" and user.name == "New Person"
    assert user.attributes["custom:role_b"] == "2" and user.attributes["custom:role_a"] == "0"
    assert sorted(cognito.user_groups(user.sub)) == ["app-crm", "app-hr"]
    entry = selectors.entry_get(user.sub)
    assert (entry.email, entry.role_key, entry.status) == ("new.person@example.com", "b2", "FORCE_CHANGE_PASSWORD")
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.target_sub) == ("user_invite", "success", user.sub)


def test_invite_in_embedded_mode_shows_the_temporary_password_once(admin_client, settings):
    settings.COGNITO_EMBEDDED = True
    response = admin_client.post(user_url("add"), INVITE)
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    start = page.index('id="temporary-password">') + len('id="temporary-password">')
    password = page[start : page.index("</code>", start)]
    assert cognito.auth_password("new.person@example.com", password).challenge == "NEW_PASSWORD_REQUIRED"
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    user = cognito.user_get("new.person@example.com")
    assert password not in admin_client.get(user_url("change", user.sub)).content.decode()
    assert password not in str(list(AuditEvent.objects.values()))


def test_invite_an_existing_email_links_to_that_user(admin_client, alice):
    response = admin_client.post(user_url("add"), {**INVITE, "email": "ALICE@example.com"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    page = response.content.decode()
    assert "A user with the email alice@example.com already exists." in page
    assert f'href="{user_url("change", alice.sub)}" id="existing-user"' in page


def test_invite_an_email_cognito_has_but_the_index_lacks(admin_client, make_cognito_user):
    bob = make_cognito_user("bob@example.com")  # created outside the portal: not indexed yet
    response = admin_client.post(user_url("add"), {**INVITE, "email": "bob@example.com"})
    assert f'href="{user_url("change", bob.sub)}" id="existing-user"' in response.content.decode()
    assert selectors.entry_get(bob.sub) is not None


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("email", "not-an-email", services.MESSAGES["invalid_email"]),
        ("email", '"quoted"@example.com', services.MESSAGES["invalid_email"]),
        ("role", "d", "Unknown role &#x27;d&#x27;; the roles are a, b, c."),
        ("level", "9", "Level must be a whole number from 1 to 3."),
        ("applications", ["crm", "nope"], "Unknown application: nope."),
        ("name", "", "Enter a name of at most 256 characters, without control characters."),
        ("name", "Bad\x00Name", "Enter a name of at most 256 characters, without control characters."),
    ],
)
def test_bad_invite_input_is_refused_with_nothing_created(field, value, message, admin_client):
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("add"), {**INVITE, field: value})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode()
    assert not calls
    assert not DirectoryEntry.objects.exists()
    assert AuditEvent.objects.get().outcome == "failure"


def test_an_invitation_cognito_refuses_is_a_form_error_with_nothing_created_simulated(admin_client):
    # The embedded emulator refuses o'brien+x@example.com as a username, as Cognito refuses some parameters.
    with cognito_fault("InvalidParameterException", operations={"AdminCreateUser"}) as failed:
        response = admin_client.post(user_url("add"), {**INVITE, "email": "o'brien+x@example.com"})
    assert failed and response.status_code == HTTPStatus.BAD_REQUEST
    assert response.context["error"] == services.MESSAGES["invite_refused"].format(error="simulated")
    assert not DirectoryEntry.objects.exists()
    assert [user.email for user in cognito.users_list()] == ["admin@example.com"]
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.target) == ("user_invite", "failure", "o'brien+x@example.com")


def test_an_email_with_an_apostrophe_and_a_plus_is_a_valid_address():
    assert services.valid_email("O'Brien+x@Example.com") == "o'brien+x@example.com"


def test_an_email_longer_than_cognitos_username_limit_is_refused_before_cognito(admin_client):
    email = "a" * (services.EMAIL_MAX - len("@example.com") + 1) + "@example.com"  # valid, but 129 characters
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("add"), {**INVITE, "email": email})
    assert (
        response.status_code == HTTPStatus.BAD_REQUEST
        and response.context["error"] == services.MESSAGES["invalid_email"]
        and not calls
    )
    assert services.valid_email(email[1:]) == email[1:]


def test_script_in_a_name_is_shown_escaped(admin_client):
    admin_client.post(user_url("add"), {**INVITE, "name": "<script>alert(1)</script>"})
    user = cognito.user_get("new.person@example.com")
    assert user.name == "<script>alert(1)</script>"  # stored as typed ...
    for url in [user_url("change", user.sub), user_url("changelist")]:
        page = admin_client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page  # ... never rendered as markup
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- Resending an invitation ----------------------------------------------------------------------


@pytest.fixture
def invited(admin_user):
    """A user invited through the portal who never signed in (FORCE_CHANGE_PASSWORD)."""
    data = {**INVITE, "level": 2}
    return services.user_invite(actor=admin_user, **data).entry


def test_resend_invitation_sends_it_again_to_the_same_user(admin_client, invited):
    page = admin_client.get(user_url("change", invited.sub)).content.decode()
    assert 'id="resend-invitation"' in page and 'id="invitation-pending"' in page
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("resend_invitation", invited.sub))
    assert dict(calls) == {"AdminGetUser": 1, "AdminCreateUser": 1}
    assert said(response) == [views.SAID["reinvited"].format(email="new.person@example.com")]
    assert [user.sub for user in cognito.users_list('email = "new.person@example.com"')] == [invited.sub]
    assert cognito.user_get(invited.sub).status == "FORCE_CHANGE_PASSWORD"
    event = AuditEvent.objects.filter(action="user_resend_invitation").get()
    assert (event.outcome, event.target_sub, event.after) == (
        "success",
        invited.sub,
        {"status": "FORCE_CHANGE_PASSWORD", "invitation_resent": True},
    )


def test_resend_invitation_in_embedded_mode_shows_the_new_temporary_password_once(admin_client, invited, settings):
    settings.COGNITO_EMBEDDED = True
    response = admin_client.post(user_url("resend_invitation", invited.sub))
    assert response.status_code == HTTPStatus.OK
    password = response.context["invitation"].temporary_password
    assert password and password in response.content.decode()
    assert cognito.auth_password("new.person@example.com", password).challenge == "NEW_PASSWORD_REQUIRED"


def test_resend_invitation_is_refused_for_a_user_who_signed_in(admin_client, alice):
    page = admin_client.get(user_url("change", alice.sub)).content.decode()
    assert 'id="resend-invitation"' not in page
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("resend_invitation", alice.sub))
    assert dict(calls) == {"AdminGetUser": 1}  # read live, then refused before Cognito is asked to send
    assert said(response) == [services.MESSAGES["not_invited"].format(email="alice@example.com", status="CONFIRMED")]
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome) == ("user_resend_invitation", "failure")


def test_resend_invitation_refused_by_cognito_says_so_simulated(admin_client, invited):
    with cognito_fault("UnsupportedUserStateException", operations={"AdminCreateUser"}):
        response = admin_client.post(user_url("resend_invitation", invited.sub))
    assert said(response) == [
        services.MESSAGES["not_invited"].format(email="new.person@example.com", status="confirmed")
    ]


def test_the_help_desk_cannot_resend_an_invitation(helpdesk_client, invited):
    response = helpdesk_client.post(user_url("resend_invitation", invited.sub))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert AuditEvent.objects.filter(action="user_resend_invitation", outcome="denied").exists()
