"""Bulk actions on a selection of the directory: the single-user services, user by user, for whom may."""

from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django_tasks_db.models import DBTaskResult

from accounts import cognito
from accounts.bulk import actions as bulk_actions
from accounts.bulk import engine as bulk
from accounts.directory import selectors, services
from accounts.models import AuditEvent, BulkJob, BulkRow
from tests.bulk import outcomes, run_worker
from tests.conftest import USER_PASSWORD
from tests.support.staff import user_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(pool, make_cognito_user, admin_identity, helpdesk_identity):
    """Three ordinary users, a help-desk account and the administrator, all in the directory; by email."""
    made = {
        "amy@example.com": make_cognito_user("amy@example.com", role=("a", 1), apps=["billing"]),
        "ben@example.com": make_cognito_user("ben@example.com", role=("b", 2), apps=["crm"]),
        "cat@example.com": make_cognito_user("cat@example.com", role=("c", 3), apps=[]),
        "desk@example.com": helpdesk_identity,
        "admin@example.com": admin_identity,
    }
    services.directory_sync(actor="test")
    return made


def act(client, action: str, people, emails, **parameters):
    """Post a bulk action on these users from the directory's action bar; return the response."""
    data = {
        "action": f"bulk_{action}",
        "index": "0",
        "select_across": "0",
        "_selected_action": [people[email].sub for email in emails],
        **parameters,
    }
    return client.post(user_url("changelist"), data)


def said(response) -> list[str]:
    """Return the messages left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def roles_of(email: str) -> list[str]:
    """Return the user's three role attributes, as Cognito holds them."""
    attributes = cognito.user_get(email).attributes
    return [attributes[f"custom:role_{name}"] for name in "abc"]


def audited(action: str) -> list[tuple[str, str, str]]:
    """Return (actor, target, outcome) of the audit events of one action, oldest first."""
    return list(AuditEvent.objects.filter(action=action).order_by("at", "id").values_list("actor", "target", "outcome"))


def test_an_administrator_grants_an_application_to_a_small_selection_at_once(admin_client, people):
    response = act(
        admin_client, "grant", people, ["amy@example.com", "ben@example.com", "cat@example.com"], application="docs"
    )
    assert response.status_code == HTTPStatus.FOUND
    assert said(response) == ["Grant docs: 3 done, 0 failed of 3."]
    assert not DBTaskResult.objects.exists()  # small: applied in the request, through the same runner
    assert sorted(cognito.user_groups("amy@example.com")) == ["app-billing", "app-docs"]
    assert sorted(cognito.user_groups("ben@example.com")) == ["app-crm", "app-docs"]
    assert cognito.user_groups("cat@example.com") == ["app-docs"]
    assert audited("access_grant") == [
        ("admin@example.com", email, "success") for email in ["amy@example.com", "ben@example.com", "cat@example.com"]
    ]
    job = BulkJob.objects.get()
    assert outcomes(job)["amy@example.com"] == ("updated", "granted docs")


def test_granting_what_a_user_already_holds_in_cognito_changes_nothing(admin_client, people):
    cognito.user_add_to_group("cat@example.com", "app-docs")  # the index does not know yet
    act(admin_client, "grant", people, ["cat@example.com"], application="docs")
    assert outcomes(BulkJob.objects.get()) == {"cat@example.com": ("unchanged", "already held docs")}
    assert audited("access_grant") == [("admin@example.com", "cat@example.com", "success")]


def test_revoking_reads_the_user_live_so_a_stale_index_cannot_keep_access(admin_client, people):
    cognito.user_add_to_group("cat@example.com", "app-hr")  # granted outside the portal, unknown to the index
    session = cognito.auth_password("cat@example.com", USER_PASSWORD)
    act(admin_client, "revoke", people, ["cat@example.com", "amy@example.com"], application="hr")
    assert cognito.user_groups("cat@example.com") == []
    with pytest.raises(cognito.NotAuthorized):  # the revoke signed cat out everywhere
        cognito.auth_refresh(people["cat@example.com"].sub, session.refresh_token)
    assert outcomes(BulkJob.objects.get()) == {
        "amy@example.com": ("unchanged", "did not hold hr"),
        "cat@example.com": ("updated", "revoked hr"),
    }


def test_set_role_disable_and_sign_out(admin_client, people):
    act(admin_client, "set_role", people, ["amy@example.com", "ben@example.com"], role="c", level="2")
    assert roles_of("amy@example.com") == ["0", "0", "2"] and roles_of("ben@example.com") == ["0", "0", "2"]
    tokens = cognito.auth_password("cat@example.com", USER_PASSWORD)
    act(admin_client, "sign_out", people, ["cat@example.com"])
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_refresh(people["cat@example.com"].sub, tokens.refresh_token)
    act(admin_client, "disable", people, ["ben@example.com"])
    assert cognito.user_get("ben@example.com").enabled is False
    assert [
        action
        for (action,) in AuditEvent.objects.filter(outcome="success")
        .exclude(action__startswith="bulk")
        .exclude(action="directory_sync")
        .order_by("at", "id")
        .values_list("action")
    ] == ["role_change", "role_change", "user_sign_out", "user_disable"]


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"action": "grant"}, "Unknown application: (none). Choose from the listed applications."),
        (
            {"action": "grant", "application": "payroll"},
            "Unknown application: payroll. Choose from the listed applications.",
        ),
        ({"action": "set_role", "role": "b"}, "Level must be a whole number from 1 to 3."),
        ({"action": "set_role", "role": "z", "level": "1"}, "Unknown role 'z'; the roles are a, b, c."),
    ],
)
def test_a_bulk_action_without_its_parameters_is_refused_with_nothing_changed(
    admin_client, people, parameters, message
):
    action = parameters.pop("action")
    with cognito.count_calls() as calls:
        response = act(admin_client, action, people, ["amy@example.com"], **parameters)
    assert said(response) == [message]
    assert not calls and not BulkJob.objects.exists()


def test_the_help_desk_may_only_set_roles_and_never_on_staff_accounts(helpdesk_client, people):
    page = helpdesk_client.get(user_url("changelist")).content.decode()
    assert 'value="bulk_set_role"' in page
    assert all(f'value="bulk_{name}"' not in page for name in ("grant", "revoke", "disable", "sign_out"))

    response = act(
        helpdesk_client,
        "set_role",
        people,
        ["amy@example.com", "admin@example.com", "desk@example.com"],
        role="b",
        level="1",
    )
    assert said(response) == [
        "Set role B1: 1 done, 2 failed of 3.",
        "Not applied: admin@example.com: Not allowed: a staff account (only administrators change staff "
        "accounts).; desk@example.com: Not allowed: a staff account (only administrators change staff accounts).",
    ]
    assert roles_of("amy@example.com") == ["0", "1", "0"]
    assert roles_of("admin@example.com") == ["0", "0", "0"]
    assert audited("role_change") == [
        ("desk@example.com", "admin@example.com", "denied"),
        ("desk@example.com", "amy@example.com", "success"),
        ("desk@example.com", "desk@example.com", "denied"),
    ]


@pytest.mark.parametrize("action", ["grant", "revoke", "disable", "sign_out"])
def test_the_help_desk_cannot_post_any_other_bulk_action(helpdesk_client, helpdesk_user, people, action):
    with cognito.count_calls() as calls:
        response = act(helpdesk_client, action, people, ["amy@example.com"], application="docs")
    assert response.status_code == HTTPStatus.FORBIDDEN  # a forged action is refused, not "No action selected."
    assert not calls and not BulkJob.objects.exists()
    event = AuditEvent.objects.exclude(action="directory_sync").get()
    assert (event.action, event.outcome, event.after) == ("bulk_action", AuditEvent.DENIED, {"action": action})
    with pytest.raises(PermissionDenied):  # the service refuses too, whatever the screen offered
        bulk_actions.selection_job(
            actor=helpdesk_user, action={"name": action, "application": "docs"}, queryset=selectors.directory_entries()
        )


def test_an_administrator_cannot_disable_their_own_account_in_bulk(admin_client, people):
    response = act(admin_client, "disable", people, ["admin@example.com", "cat@example.com"])
    assert "admin@example.com: Not allowed: your own account." in said(response)[1]
    assert cognito.user_get("admin@example.com").enabled and not cognito.user_get("cat@example.com").enabled


def test_a_large_selection_runs_in_the_background_with_a_progress_page(admin_client, people, settings):
    settings.PORTAL_BULK_INLINE_MAX = 2
    response = act(
        admin_client, "grant", people, ["amy@example.com", "ben@example.com", "cat@example.com"], application="hr"
    )
    job = BulkJob.objects.get()
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == user_url("changelist").replace(
        "directoryentry/", f"bulkjob/{job.pk}/change/"
    )
    assert said(response) == ["Grant hr for 3 users runs in the background."]
    assert cognito.user_groups("cat@example.com") == []  # nothing yet
    page = admin_client.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in page and 'data-progress-url="' in page
    run_worker()
    job.refresh_from_db()
    assert (bulk.progress(job)["status"], bulk.progress(job)["done"]) == ("done", 3)
    assert cognito.user_groups("cat@example.com") == ["app-hr"]
    assert BulkRow.objects.filter(attempts=1).count() == 3


def test_a_small_selection_leaves_the_rest_to_the_workers_when_the_requests_cognito_time_runs_low_simulated(
    admin_client, people, monkeypatch
):
    clock = {"now": 0.0}
    monkeypatch.setattr(cognito.client, "_clock", lambda: clock["now"])
    cognito.on_event("after-call.cognito-idp", lambda **_: clock.update(now=clock["now"] + 2))  # 2 s a call
    response = act(
        admin_client, "grant", people, ["amy@example.com", "ben@example.com", "cat@example.com"], application="hr"
    )
    job = BulkJob.objects.get()
    assert response.status_code == HTTPStatus.FOUND and response["Location"].endswith(f"bulkjob/{job.pk}/change/")
    assert said(response) == ["Grant hr for 3 users runs in the background."]
    assert (bulk.progress(job)["done"], bulk.progress(job)["remaining"]) == (1, 2)  # 3 calls: 6 of the 8 s
    run_worker()
    job.refresh_from_db()
    assert bulk.progress(job)["status"] == "done"
    assert [
        cognito.user_groups(email).count("app-hr")
        for email in ["amy@example.com", "ben@example.com", "cat@example.com"]
    ] == [1, 1, 1]


def test_select_across_every_page_applies_to_the_whole_filtered_directory(admin_client, people):
    data = {
        "action": "bulk_set_role",
        "index": "0",
        "select_across": "1",
        "role": "a",
        "level": "3",
        "_selected_action": [people["amy@example.com"].sub],
    }
    response = admin_client.post(user_url("changelist") + "?staff=none", data)
    assert said(response) == ["Set role A3: 3 done, 0 failed of 3."]
    assert all(
        roles_of(email) == ["3", "0", "0"] for email in ("amy@example.com", "ben@example.com", "cat@example.com")
    )
    assert roles_of("desk@example.com") == ["0", "0", "0"]


@pytest.mark.parametrize("persona, status", [("helpdesk", 200), ("admin", 200)])
def test_a_job_page_is_for_its_author_and_administrators(
    persona, status, request, client, people, admin_user, helpdesk_user
):
    mine = bulk_actions.selection_job(
        actor=helpdesk_user,
        action={"name": "set_role", "role": "a", "level": 1},
        queryset=selectors.directory_entries().filter(email="cat@example.com"),
    )
    theirs = bulk_actions.selection_job(
        actor=admin_user,
        action={"name": "disable"},
        queryset=selectors.directory_entries().filter(email="cat@example.com"),
    )
    client.force_login(request.getfixturevalue(f"{persona}_user"))
    url = user_url("changelist").replace("directoryentry/", "bulkjob/{}/change/")
    assert client.get(url.format(mine.pk)).status_code == status
    assert client.get(url.format(theirs.pk)).status_code == (403 if persona == "helpdesk" else 200)
    progress = url.format(theirs.pk).replace("change/", "progress.json")
    assert client.get(progress).status_code == (403 if persona == "helpdesk" else 200)
