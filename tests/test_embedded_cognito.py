"""scripts/embedded_cognito.py: the embedded Cognito keeps its exact state across restarts, and Cognito's rules.

These tests run the real server in a process of its own (the `aws` fixture is replaced here, so the usual
pool and user fixtures work against it) and restart it between the steps.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from accounts import cognito, tasks
from accounts.bulk import jobs
from accounts.models import BulkRow
from tests.bulk import csv_bytes, preview
from tests.conftest import STAFF_PASSWORD, USER_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))
NEW_PASSWORD = "Changed-Password-2!"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """The embedded Cognito on a port of its own, with its snapshot in a file; started and stopped at will."""

    def __init__(self, state: Path):
        self.state, self.port, self.process = state, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        env = {**os.environ, "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true"}
        self.process = subprocess.Popen(
            [sys.executable, "scripts/embedded_cognito.py", "-p", str(self.port), "--state", str(self.state)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                LOOPBACK.open(f"{self.url}/moto-api/", timeout=2).close()
                return
            except OSError:
                assert self.process.poll() is None, self.process.stderr.read().decode()
                assert time.monotonic() < deadline, "the embedded Cognito did not start"
                time.sleep(0.1)

    def stop(self, number: int = signal.SIGTERM) -> None:
        """Stop the server with a signal and wait for it to go."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(number)
            self.process.wait(timeout=30)

    def restart(self) -> None:
        """Stop and start again, as make run does."""
        self.stop()
        self.start()
        cognito.reset_client()


@pytest.fixture
def aws(settings, tmp_path):
    """Replace moto in-process by the embedded Cognito's server (the rest of the fixtures use it)."""
    server = Server(tmp_path / "state.pickle")
    server.start()
    settings.COGNITO_ENDPOINT_URL = server.url
    settings.COGNITO_EMBEDDED = True
    cognito.reset_client()
    yield server
    server.stop(signal.SIGKILL)


def pool_state() -> dict:
    """Return every user of the pool with their groups, and the pool's groups."""
    users = {user.username: (user, sorted(cognito.user_groups(user.username))) for user in cognito.users_list()}
    return {"users": users, "groups": sorted(group.name for group in cognito.groups_list())}


def update_twenty_times(email: str) -> None:
    """Write the same name twenty times, and read the user after each."""
    for _ in range(20):
        cognito.user_update_attributes(email, {"name": "Later"})
        cognito.user_get(email)


def sign_in_with_totp(email: str, password: str, totp, secret: str) -> bool:
    """Sign in with password and TOTP code; return True when Cognito issues tokens."""
    step = cognito.auth_password(email, password)
    assert step.challenge == "SOFTWARE_TOKEN_MFA"
    return cognito.auth_respond(
        step.challenge, step.session, email, {"SOFTWARE_TOKEN_MFA_CODE": totp(secret)}
    ).signed_in


@pytest.mark.django_db
def test_a_restart_restores_users_ids_groups_passwords_and_enrolments_exactly_and_the_snapshot_stays_bounded(
    aws, admin_user, make_cognito_user, totp
):
    staff = make_cognito_user("staff@example.com", staff="helpdesk", password=STAFF_PASSWORD)
    session = cognito.auth_password("staff@example.com", STAFF_PASSWORD)
    secret, _ = cognito.token_associate(access_token=session.access_token)
    with pytest.raises(cognito.CognitoError):
        cognito.token_verify("000000" if totp(secret) != "000000" else "111111", access_token=session.access_token)
    cognito.token_verify(totp(secret), access_token=session.access_token)
    cognito.user_set_totp_preference("staff@example.com", enabled=True)
    cognito.password_change(session.access_token, STAFF_PASSWORD, NEW_PASSWORD)
    make_cognito_user("reset@example.com", apps=["crm"])
    cognito.user_reset_password("reset@example.com")
    make_cognito_user("gone@example.com")
    cognito.user_delete("gone@example.com")
    job = preview(admin_user, csv_bytes("imported@example.com,Imported Person,b,2,crm;hr"))
    jobs.job_start(actor=admin_user, job=job, background=False)
    tasks.bulk_work(job_id=job.pk, actor_id=admin_user.pk)
    assert job.rows.get().outcome == BulkRow.CREATED
    before = pool_state()

    aws.restart()
    assert pool_state() == before
    assert before["users"][staff.username][0].sub == staff.sub
    assert sorted(before["users"][cognito.user_get("imported@example.com").username][1]) == ["app-crm", "app-hr"]
    assert "gone@example.com" not in {user.attributes.get("email") for user, _ in before["users"].values()}
    assert sign_in_with_totp("staff@example.com", NEW_PASSWORD, totp, secret)
    cognito.sign_out_everywhere(session.access_token)  # a token issued before the restart is still known
    with pytest.raises(cognito.PasswordResetRequired):
        cognito.auth_password("reset@example.com", USER_PASSWORD)
    with pytest.raises(cognito.CognitoError) as wrong:
        cognito.auth_password("reset@example.com", "Wrong-Password-9!")
    assert not isinstance(wrong.value, cognito.PasswordResetRequired)  # a wrong password is just wrong
    later = cognito.user_create(
        "later@example.com", {"name": "Later"}, temporary_password="Later-Pass-word-1!", send_invitation=False
    )
    assert later.sub not in {user.sub for user, _ in before["users"].values()}

    update_twenty_times("later@example.com")
    aws.restart()
    size = aws.state.stat().st_size  # the snapshot is the state: requests do not grow it
    update_twenty_times("later@example.com")
    aws.restart()
    assert aws.state.stat().st_size == size
    assert set(pool_state()["users"]) == set(before["users"]) | {later.username}
