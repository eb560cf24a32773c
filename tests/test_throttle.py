"""Sign-in throttling tried as an attacker: per account and address together, MFA codes, forgot password."""

import textwrap
import uuid
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from accounts import cognito
from accounts.audit.record import client_ip
from accounts.models import AuditEvent
from accounts.signin import flows
from tests.conftest import STAFF_PASSWORD
from tests.test_settings import django_process

LOGIN = reverse("accounts:login")
MFA = reverse("accounts:login_mfa")
FORGOT = reverse("accounts:password_forgot")
WRONG = "Wrong-Password-9!"


def sign_in(client, email, password, address, **headers):
    """Post the sign-in form from a client address."""
    return client.post(LOGIN, {"email": email, "password": password}, REMOTE_ADDR=address, **headers)


def refused(response) -> bool:
    """Return True when the sign-in form came back with the lockout message."""
    return response.status_code == HTTPStatus.OK and flows.common.LOCKED in response.context["form"].non_field_errors()


def denials(action: str = "sign_in") -> int:
    """Return how many attempts of `action` were refused by the throttle."""
    return AuditEvent.objects.filter(action=action, outcome=AuditEvent.DENIED, error="throttled").count()


@pytest.mark.django_db
def test_five_wrong_passwords_from_other_addresses_never_stop_the_right_one_from_a_fresh_address(
    client, admin_identity
):
    for n in range(5):
        assert not refused(sign_in(client, "admin@example.com", WRONG, f"203.0.113.{n}"))
    response = sign_in(client, "admin@example.com", STAFF_PASSWORD, "198.51.100.7")
    assert response.status_code == HTTPStatus.FOUND and response.url == reverse("home")
    assert SESSION_KEY in client.session


@pytest.mark.django_db
def test_five_wrong_passwords_from_one_address_lock_that_account_there_without_asking_cognito(client, admin_identity):
    for _ in range(5):
        sign_in(client, "admin@example.com", WRONG, "203.0.113.9")
    with cognito.count_calls() as calls:
        response = sign_in(client, "admin@example.com", STAFF_PASSWORD, "203.0.113.9")
    assert refused(response) and sum(calls.values()) == 0
    assert denials() == 1
    event = AuditEvent.objects.get(outcome=AuditEvent.DENIED)
    assert (event.target, event.client_ip) == ("admin@example.com", "203.0.113.9")


@pytest.mark.django_db
def test_twenty_failures_with_random_emails_from_one_address_block_no_other_account_elsewhere(client, admin_identity):
    for _ in range(20):
        sign_in(client, f"{uuid.uuid4().hex}@example.com", WRONG, "203.0.113.66")
    response = sign_in(client, "admin@example.com", STAFF_PASSWORD, "198.51.100.7")
    assert response.status_code == HTTPStatus.FOUND and response.url == reverse("home")


@pytest.mark.django_db
def test_a_forged_forwarded_for_header_is_ignored_without_a_trusted_proxy(client, admin_identity, settings):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 0
    for n in range(5):
        sign_in(client, "admin@example.com", WRONG, "203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    forged = sign_in(client, "admin@example.com", STAFF_PASSWORD, "203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert refused(forged)
    assert AuditEvent.objects.get(outcome=AuditEvent.DENIED).client_ip == "203.0.113.9"


@pytest.mark.django_db
def test_behind_one_trusted_proxy_each_visitor_counts_apart_and_a_forged_entry_changes_nothing(
    client, admin_identity, settings
):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"  # every request reaches the portal from the proxy
    for n in range(5):  # the attacker prepends a different forged address each time; the proxy appends theirs
        sign_in(client, "admin@example.com", WRONG, proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9")
    assert refused(
        sign_in(client, "admin@example.com", STAFF_PASSWORD, proxy, HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.9")
    )
    staff = sign_in(client, "admin@example.com", STAFF_PASSWORD, proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert staff.status_code == HTTPStatus.FOUND and staff.url == reverse("home")
    assert set(AuditEvent.objects.values_list("client_ip", flat=True)) == {"203.0.113.9", "198.51.100.7"}


@pytest.mark.parametrize(
    "count, forwarded, expected",
    [
        (0, "192.0.2.1", "203.0.113.9"),
        (1, "", "203.0.113.9"),
        (1, "192.0.2.1, 198.51.100.7", "198.51.100.7"),
        (2, "192.0.2.1, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),
        (1, "not-an-address", "203.0.113.9"),
    ],
)
def test_the_client_address_is_taken_from_the_trusted_proxies_only(rf, settings, count, forwarded, expected):
    settings.PORTAL_TRUSTED_PROXY_COUNT = count
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    assert client_ip(rf.get("/", REMOTE_ADDR="203.0.113.9", **headers)) == expected


@pytest.mark.django_db
def test_a_right_sign_in_clears_the_failures_of_its_account_and_address(client, admin_identity):
    for _ in range(4):
        sign_in(client, "admin@example.com", WRONG, "203.0.113.9")
    sign_in(client, "admin@example.com", STAFF_PASSWORD, "203.0.113.9")
    client.post(reverse("accounts:logout"))
    for _ in range(4):
        assert not refused(sign_in(client, "admin@example.com", WRONG, "203.0.113.9"))


def _mfa_pending(client, totp, address: str) -> str:
    """Enrol TOTP for the administrator, sign out, and start a sign-in that asks for a code; return the secret."""
    sign_in(client, "admin@example.com", STAFF_PASSWORD, "198.51.100.1")
    page = client.get(reverse("accounts:account_mfa"))
    client.post(reverse("accounts:account_mfa"), {"code": totp(page.context["secret"])})
    client.post(reverse("accounts:logout"))
    assert sign_in(client, "admin@example.com", STAFF_PASSWORD, address).url == MFA
    return page.context["secret"]


@pytest.mark.django_db
def test_thirty_wrong_totp_codes_end_the_pending_sign_in_at_five_and_the_right_code_is_refused_after(
    client, admin_identity, totp
):
    secret = _mfa_pending(client, totp, "203.0.113.9")
    wrong = "000000" if totp(secret) != "000000" else "111111"
    with cognito.count_calls() as calls:
        answers = [client.post(MFA, {"code": wrong}, REMOTE_ADDR="203.0.113.9") for _ in range(30)]
    assert calls["RespondToAuthChallenge"] + calls["AdminRespondToAuthChallenge"] == 5
    assert [a.status_code for a in answers[:4]] == [HTTPStatus.OK] * 4
    assert all(a.status_code == HTTPStatus.FOUND and a.url == LOGIN for a in answers[4:])
    right = client.post(MFA, {"code": totp(secret)}, REMOTE_ADDR="203.0.113.9")
    assert right.url == LOGIN and SESSION_KEY not in client.session
    assert refused(sign_in(client, "admin@example.com", STAFF_PASSWORD, "203.0.113.9"))  # the same limiter
    assert AuditEvent.objects.filter(action="sign_in", error="wrong MFA code").count() == 5
    kept = "".join(AccessAttempt.objects.values_list("post_data", flat=True))
    assert "code=********************" in kept and f"code={wrong}" not in kept and STAFF_PASSWORD not in kept
    assert denials() >= 1


@pytest.mark.django_db
def test_thirty_forgot_password_requests_for_one_email_send_only_the_limit_on(client, admin_identity, settings):
    settings.PORTAL_PASSWORD_FORGOT_PER_EMAIL, settings.PORTAL_PASSWORD_FORGOT_PER_ADDRESS = 3, 100
    with cognito.count_calls() as calls:
        answers = [
            client.post(FORGOT, {"email": "admin@example.com"}, REMOTE_ADDR=f"203.0.113.{n}", follow=True)
            for n in range(30)
        ]
    assert calls["ForgotPassword"] == 3
    said = {tuple(str(m) for m in a.context["messages"] if "Embedded" not in str(m)) for a in answers}
    assert said == {(flows.common.FORGOT_SENT,)}  # the same answer, sent on or not
    assert denials("password_forgot") == 27


@pytest.mark.django_db
def test_forgot_password_requests_from_one_address_are_limited_across_emails(client, pool, settings):
    settings.PORTAL_PASSWORD_FORGOT_PER_EMAIL, settings.PORTAL_PASSWORD_FORGOT_PER_ADDRESS = 3, 10
    with cognito.count_calls() as calls:
        for _ in range(30):
            client.post(FORGOT, {"email": f"{uuid.uuid4().hex}@example.com"}, REMOTE_ADDR="203.0.113.9")
    assert calls["ForgotPassword"] == 10 and denials("password_forgot") == 20


CONCURRENT_FAILURES = textwrap.dedent("""
    import threading
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.db import connection
    from django.db.models import Sum
    from django.test import RequestFactory
    from accounts.signin import throttle
    settings.PORTAL_SIGNIN_MAX_FAILURES = 1000
    errors = []
    def fail(agent):
        try:
            for _ in range(10):
                request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT=agent)
                throttle.signin_failed(request, username="admin@example.com")
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()
    threads = [threading.Thread(target=fail, args=(f"agent-{n % 2}",)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("errors", errors, "counted", AccessAttempt.objects.aggregate(n=Sum("failures_since_start"))["n"])
""")


def test_concurrent_failures_of_one_account_and_address_in_several_workers_are_all_counted(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert django_process(tmp_path, "migrate", DATABASE_URL=database).returncode == 0
    result = django_process(
        tmp_path, "shell", "-c", CONCURRENT_FAILURES, DATABASE_URL=database, DJANGO_LOG_LEVEL="ERROR"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "errors [] counted 80"  # 8 workers x 10, none lost
