"""Access review campaigns: start, worklists, decisions applied by the bulk engine, the deadline on a controlled
clock (time-machine), reminders, reviewers who lose their standing, throttling while applying, the report."""

import csv
import io
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts import cognito, tasks
from accounts.directory import services as directory_services
from accounts.models import AuditEvent, BulkJob, ReviewCampaign, ReviewItem, Revocation, User
from accounts.reviews import selectors, services
from accounts.reviews.words import CHANGED, REVIEW_ACTOR, SAID
from accounts.rules import roles
from accounts.rules.errors import InvalidInput, ServiceError
from tests.bulk import run_worker
from tests.faults import cognito_fault
from tests.support.staff import index_user, local_staff

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = START + timedelta(days=5)


@pytest.fixture
def clock():
    """A controlled clock, started at START and ticking."""
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


@pytest.fixture
def people(clock, make_cognito_user, admin_user, helpdesk_user):
    """Alice (billing, crm), Bob (billing) and the help desk's own billing, all indexed; Bob's crm granted by
    the administrator through the portal (so the audit knows who granted it)."""
    alice = make_cognito_user("alice@example.com", role=("b", 2), apps=["billing", "crm"])
    bob = make_cognito_user("bob@example.com", apps=["billing"])
    cognito.user_add_to_group(helpdesk_user.cognito_sub, roles.group_for_application("billing"))
    for user in (alice, bob):
        index_user(user)
    index_user(cognito.user_get(helpdesk_user.cognito_sub))
    directory_services.access_grant(actor=admin_user, sub=bob.sub, application="crm", reason="TICKET-1")
    return {"alice": alice, "bob": bob, "admin": admin_user, "desk": helpdesk_user}


def start(people, **overrides) -> ReviewCampaign:
    """Start a review of billing and crm by the help desk, unanswered items revoked."""
    fields = {
        "name": "Q1 review",
        "applications": ["billing", "crm"],
        "reviewers": [people["desk"]],
        "owners_review": False,
        "deadline": DEADLINE,
        "unanswered": ReviewCampaign.REVOKE,
        **overrides,
    }
    return services.campaign_start(actor=people["admin"], reason="ISO 27001 A.5.18", **fields)


def item(campaign, email: str, application: str) -> ReviewItem:
    """Return one item of the campaign, fresh from the database."""
    return campaign.items.get(email=email, application=application)


def held(user) -> set[str]:
    """Return the applications the user holds in Cognito now."""
    return {roles.application_for_group(group) for group in cognito.user_groups(user.sub)} & {"billing", "crm"}


# --- Starting ---------------------------------------------------------------------------------------------


def test_start_snapshots_each_access_with_its_audited_grant_and_fills_the_worklists(people):
    campaign = start(people)

    items = {(i.email, i.application): i for i in campaign.items.select_related("reviewer")}
    assert sorted(items) == [
        ("alice@example.com", "billing"),
        ("alice@example.com", "crm"),
        ("bob@example.com", "billing"),
        ("bob@example.com", "crm"),
        ("desk@example.com", "billing"),
    ]
    bob_crm = items[("bob@example.com", "crm")]
    assert (bob_crm.granted_by, bob_crm.granted_at is not None) == ("admin@example.com", True)
    assert items[("alice@example.com", "billing")].role == roles.index_label("b", 2)
    assert items[("alice@example.com", "billing")].reviewer == people["desk"]
    assert items[("desk@example.com", "billing")].reviewer is None  # nobody certifies themselves: administrators
    event = AuditEvent.objects.get(action="review_start")
    assert (event.actor, event.outcome, event.after["items"], event.reason) == (
        "admin@example.com",
        AuditEvent.SUCCESS,
        5,
        "ISO 27001 A.5.18",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"deadline": START - timedelta(hours=1)}, SAID["deadline_past"]),
        ({"reviewers": []}, SAID["no_reviewers"]),
        ({"applications": []}, SAID["no_applications"]),
    ],
)
def test_start_refuses_bad_input_with_its_message_audited_and_nothing_started(people, overrides, message):
    with pytest.raises(InvalidInput) as refused:
        start(people, **overrides)

    assert refused.value.message == message
    assert not ReviewCampaign.objects.exists()
    assert AuditEvent.objects.get(action="review_start").outcome == AuditEvent.FAILURE


def test_start_refuses_a_named_reviewer_without_staff_standing_in_cognito(people, make_cognito_user):
    former = local_staff(make_cognito_user("former@example.com", role=None), "helpdesk")  # local group only

    with pytest.raises(InvalidInput) as refused:
        start(people, reviewers=[former])

    assert refused.value.message == SAID["reviewer_not_staff"].format(email="former@example.com")
    assert not ReviewCampaign.objects.exists()


def test_the_help_desk_cannot_start_a_campaign_and_the_attempt_is_audited_as_denied(people):
    with pytest.raises(PermissionDenied):
        services.campaign_start(
            actor=people["desk"],
            name="mine",
            applications=["billing"],
            reviewers=[people["desk"]],
            owners_review=False,
            deadline=DEADLINE,
            unanswered=ReviewCampaign.KEEP,
        )

    assert AuditEvent.objects.get(action="review_start").outcome == AuditEvent.DENIED
    assert not ReviewCampaign.objects.exists()


# --- Deciding ---------------------------------------------------------------------------------------------


def test_a_revoke_decision_is_applied_by_the_bulk_engine_with_sign_out_and_audited(people):
    campaign = start(people)
    alice_billing = item(campaign, "alice@example.com", "billing")

    decided = services.review_decide(
        actor=people["desk"], campaign=campaign, item_ids=[alice_billing.pk], decision="revoke", reason="left team"
    )
    run_worker()

    assert (decided.count, decided.revoke, decided.job.kind) == (1, 1, BulkJob.REVIEW)
    assert held(people["alice"]) == {"crm"}  # checked in Cognito
    assert Revocation.objects.filter(sub=people["alice"].sub).exists()  # signed out everywhere
    alice_billing.refresh_from_db()
    assert (alice_billing.decision, alice_billing.decided_by, alice_billing.applied) == (
        "revoke",
        "desk@example.com",
        ReviewItem.REVOKED,
    )
    decision = AuditEvent.objects.get(action="review_decide")
    assert (decision.actor, decision.target, decision.reason) == ("desk@example.com", "alice@example.com", "left team")
    revoke = AuditEvent.objects.get(action="access_revoke", target_sub=people["alice"].sub)
    assert (revoke.actor, revoke.outcome, revoke.after["revoked"]) == (REVIEW_ACTOR, AuditEvent.SUCCESS, ["billing"])
    assert "decided by desk@example.com: left team" in revoke.reason


def test_a_bulk_keep_decides_every_chosen_item_and_changes_nothing_in_cognito(people):
    campaign = start(people)
    mine = list(campaign.items.filter(reviewer=people["desk"]).values_list("pk", flat=True))

    decided = services.review_decide(actor=people["desk"], campaign=campaign, item_ids=mine, decision="keep")

    assert (decided.count, decided.revoke, decided.job) == (4, 0, None)
    assert set(campaign.items.filter(pk__in=mine).values_list("applied", flat=True)) == {ReviewItem.KEPT}
    assert held(people["alice"]) == {"billing", "crm"}
    assert AuditEvent.objects.filter(action="review_decide", outcome=AuditEvent.SUCCESS).count() == 4


def test_nobody_certifies_themselves_even_as_an_administrator(people, make_cognito_user):
    campaign = start(people)
    own = item(campaign, "desk@example.com", "billing")

    with pytest.raises(ServiceError) as refused:
        services.review_decide(actor=people["desk"], campaign=campaign, item_ids=[own.pk], decision="keep")

    assert refused.value.message == SAID["self_review"].format(email="desk@example.com")
    own.refresh_from_db()
    assert own.decision == ""
    refusal = AuditEvent.objects.get(action="review_decide")
    assert (refusal.outcome, refusal.error) == (AuditEvent.FAILURE, refused.value.message)
    services.review_decide(actor=people["admin"], campaign=campaign, item_ids=[own.pk], decision="keep")
    own.refresh_from_db()
    assert (own.decision, own.decided_by) == ("keep", "admin@example.com")


def test_an_item_of_another_reviewer_is_refused_and_audited_as_denied(people):
    campaign = start(people)
    admins = item(campaign, "desk@example.com", "billing")  # the administrators' item
    other = campaign.items.filter(reviewer=people["desk"]).first()

    with pytest.raises(PermissionDenied):
        services.review_decide(
            actor=people["admin"], campaign=campaign, item_ids=[other.pk, admins.pk], decision="keep"
        )

    assert AuditEvent.objects.get(action="review_decide").outcome == AuditEvent.DENIED
    assert not campaign.items.exclude(decision="").exists()  # all or nothing


def test_a_decision_after_the_deadline_is_refused_even_before_the_workers_close_it(people, clock):
    campaign = start(people)
    mine = campaign.items.filter(reviewer=people["desk"]).first()
    clock.move_to(DEADLINE + timedelta(minutes=1))

    with pytest.raises(ServiceError) as refused:
        services.review_decide(actor=people["desk"], campaign=campaign, item_ids=[mine.pk], decision="keep")

    assert refused.value.message == SAID["after_deadline"]
    mine.refresh_from_db()
    assert mine.decision == ""


def test_access_changed_since_the_snapshot_is_shown_and_its_revoke_recorded_as_already_gone(people):
    campaign = start(people)
    directory_services.access_revoke(actor=people["admin"], sub=people["alice"].sub, application="billing")
    alice_billing = item(campaign, "alice@example.com", "billing")

    shown = {(i.email, i.application): selectors.changed_now(i) for i in selectors.worklist(people["desk"], campaign)}
    services.review_decide(actor=people["desk"], campaign=campaign, item_ids=[alice_billing.pk], decision="revoke")
    run_worker()

    assert shown[("alice@example.com", "billing")] == CHANGED["gone"]
    assert shown[("bob@example.com", "billing")] == ""
    alice_billing.refresh_from_db()
    assert (alice_billing.seen_current, alice_billing.applied) == (CHANGED["gone"], ReviewItem.ALREADY_GONE)
    assert held(people["alice"]) == {"crm"}


# --- Reviewers who lose their standing ------------------------------------------------------------------------


def test_a_reviewer_who_loses_standing_has_their_undecided_items_moved_to_the_administrators(people):
    campaign = start(people)
    kept = campaign.items.filter(reviewer=people["desk"]).first()
    services.review_decide(actor=people["desk"], campaign=campaign, item_ids=[kept.pk], decision="keep")
    cognito.user_remove_from_group(people["desk"].cognito_sub, roles.staff_groups()["helpdesk"])

    report = tasks.review_tick_run.call()

    assert report["moved"] == 3
    assert not campaign.items.filter(reviewer=people["desk"], decision="").exists()
    assert campaign.items.filter(reviewer=people["desk"], decision="keep").count() == 1  # decided stays theirs
    moved = AuditEvent.objects.get(action="review_reassign")
    assert (moved.actor, moved.target, moved.after["items"]) == (REVIEW_ACTOR, "desk@example.com", 3)
    assert {i.email for i in selectors.worklist(people["admin"], campaign) if not i.decision} == {
        "alice@example.com",
        "bob@example.com",
        "desk@example.com",
    }


# --- Throttling while applying ----------------------------------------------------------------------------------


def test_throttling_while_applying_simulated_interrupts_the_job_and_the_next_tick_resumes_it_nothing_lost(
    people, no_backoff
):
    campaign = start(people)
    mine = list(campaign.items.filter(reviewer=people["desk"], application="billing").values_list("pk", flat=True))
    decided = services.review_decide(actor=people["desk"], campaign=campaign, item_ids=mine, decision="revoke")

    with cognito_fault("TooManyRequestsException", operations={"AdminRemoveUserFromGroup"}, after=1):
        run_worker()
    decided.job.refresh_from_db()
    interrupted = decided.job.status
    pending = set(campaign.items.filter(pk__in=mine).values_list("applied", flat=True))
    tasks.review_tick_run.call()
    run_worker()

    assert interrupted == BulkJob.INTERRUPTED and ReviewItem.PENDING in pending
    decided.job.refresh_from_db()
    assert decided.job.status == BulkJob.DONE
    assert set(campaign.items.filter(pk__in=mine).values_list("applied", flat=True)) == {ReviewItem.REVOKED}
    assert held(people["alice"]) == {"crm"} and held(people["bob"]) == {"crm"}
    assert AuditEvent.objects.filter(action="review_resume", actor=REVIEW_ACTOR).count() == 1


# --- From start to deadline, on a controlled clock ----------------------------------------------------------------


def test_a_campaign_from_start_to_deadline_reminds_closes_itself_and_revokes_the_unanswered_in_cognito(
    people, clock, settings
):
    settings.PORTAL_REVIEW_REMINDER_HOURS = [72, 24]
    campaign = start(people)
    alice_crm = item(campaign, "alice@example.com", "crm")
    bob_billing = item(campaign, "bob@example.com", "billing")
    services.review_decide(actor=people["desk"], campaign=campaign, item_ids=[bob_billing.pk], decision="keep")

    clock.move_to(DEADLINE - timedelta(hours=71))  # past the 72-hour reminder: the queued tick is due
    run_worker()
    reminded = [(message.to, message.subject) for message in mail.outbox]
    clock.move_to(DEADLINE + timedelta(hours=6))  # the workers were down at the deadline: they catch up
    run_worker()

    assert sorted(reminded) == [
        (
            ["admin@example.com"],
            f"Access review #{campaign.pk}: 1 items wait for your decision (deadline 2026-03-07 09:00)",
        ),
        (
            ["desk@example.com"],
            f"Access review #{campaign.pk}: 3 items wait for your decision (deadline 2026-03-07 09:00)",
        ),
    ]
    assert len(mail.outbox) == 2  # nothing sent again, nor after the deadline
    campaign.refresh_from_db()
    assert campaign.status == ReviewCampaign.CLOSED
    assert held(people["alice"]) == set()  # unanswered: revoked, checked in Cognito
    assert held(people["bob"]) == {"billing"}  # kept by the reviewer; bob's crm unanswered and revoked
    alice_crm.refresh_from_db()
    assert (alice_crm.decision, alice_crm.decided_by, alice_crm.applied) == ("revoke", REVIEW_ACTOR, ReviewItem.REVOKED)
    expired = AuditEvent.objects.filter(action="review_expire", actor=REVIEW_ACTOR)
    assert expired.count() == 4
    assert (
        AuditEvent.objects.filter(action="access_revoke", actor=REVIEW_ACTOR, outcome=AuditEvent.SUCCESS).count() == 4
    )

    rows = list(csv.DictReader(io.StringIO(b"".join(report_csv(people, campaign)).decode())))
    by_item = {(row["email"], row["application"]): row for row in rows}
    assert len(rows) == 5
    assert (
        by_item[("bob@example.com", "billing")]["decision"],
        by_item[("bob@example.com", "billing")]["decided_by"],
    ) == (
        "keep",
        "desk@example.com",
    )
    assert by_item[("alice@example.com", "crm")]["applied"] == "Revoked, signed out"
    assert by_item[("desk@example.com", "billing")]["reviewer"] == "administrators"


def test_unanswered_items_are_kept_when_the_campaign_says_so(people, clock):
    campaign = start(people, unanswered=ReviewCampaign.KEEP)
    clock.move_to(DEADLINE + timedelta(minutes=1))

    run_worker()

    campaign.refresh_from_db()
    assert campaign.status == ReviewCampaign.CLOSED
    assert set(campaign.items.values_list("decision", "applied")) == {("keep", ReviewItem.KEPT)}
    assert held(people["alice"]) == {"billing", "crm"}
    assert not BulkJob.objects.filter(kind=BulkJob.REVIEW).exists()


def report_csv(people, campaign):
    """Return the report CSV's streamed chunks, as the administrator downloads it."""
    client = Client()
    client.force_login(people["admin"])
    response = client.get(reverse("admin:review_report_csv", args=[campaign.pk]))
    assert response.status_code == HTTPStatus.OK
    return list(response.streaming_content)


# --- Screens ------------------------------------------------------------------------------------------------------


def test_the_worklist_page_shows_the_reviewers_items_and_what_changed(people, client):
    campaign = start(people)
    directory_services.access_revoke(actor=people["admin"], sub=people["alice"].sub, application="crm")
    client.force_login(people["desk"])

    page = client.get(reverse("admin:review_detail", args=[campaign.pk]))

    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert "alice@example.com" in html and CHANGED["gone"] in html
    assert 'data-email="desk@example.com"' not in html  # their own access is not in their worklist
    assert "review-progress" not in html  # progress is the administrators'


def test_deciding_without_choosing_an_item_says_so_and_decides_nothing(people, client):
    campaign = start(people)
    client.force_login(people["desk"])

    response = client.post(reverse("admin:review_decide", args=[campaign.pk]), {"decision": "revoke"}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [SAID["no_items"]]
    assert not campaign.items.exclude(decision="").exists()


def test_the_printable_report_lists_every_item_for_the_administrator(people, client):
    campaign = start(people)
    client.force_login(people["admin"])

    page = client.get(reverse("admin:review_report", args=[campaign.pk]))

    assert page.status_code == HTTPStatus.OK
    assert page.content.decode().count('data-email="') == 5


def test_a_campaign_start_through_the_form_opens_it(people, client):
    client.force_login(people["admin"])
    data = {
        "name": "Form review",
        "applications": ["crm"],
        "reviewers": [people["desk"].pk],
        "deadline": "2026-03-20T09:00",
        "unanswered": "keep",
        "reason": "",
    }

    response = client.post(reverse("admin:review_start"), data)

    campaign = ReviewCampaign.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("admin:review_detail", args=[campaign.pk])
    assert campaign.items.count() == 2 and list(campaign.reviewers.all()) == [
        User.objects.get(email="desk@example.com")
    ]


def test_starting_the_workers_after_a_lost_tick_queues_the_open_campaigns_next_check(people):
    start(people)
    DBTaskResult.objects.filter(task_path=tasks.review_tick_run.module_path).delete()  # the chain was lost

    call_command("cognito_sync", "--schedule", stdout=io.StringIO())
    call_command("cognito_sync", "--schedule", stdout=io.StringIO())

    waiting = DBTaskResult.objects.filter(task_path=tasks.review_tick_run.module_path, status="READY")
    assert waiting.count() == 1


def test_a_campaign_of_the_owners_gives_each_application_s_items_to_its_owners_who_decide_them(people, owner_user):
    campaign = start(people, reviewers=[], owners_review=True, applications=["billing"])
    billing = campaign.items.filter(application="billing")
    assert billing.exists() and {entry.reviewer_id for entry in billing} == {owner_user.pk}
    one = billing.get(email="bob@example.com")
    services.review_decide(
        actor=owner_user, campaign=campaign, item_ids=[one.pk], decision="revoke", reason="left the project"
    )
    assert item(campaign, "bob@example.com", "billing").decision == "revoke"
