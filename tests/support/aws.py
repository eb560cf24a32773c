"""Fixtures for moto's in-process AWS: dummy credentials for every test, and the mock itself."""

import pytest
from moto import mock_aws
from moto.cognitoidp.models import CognitoIdpBackend

from accounts import cognito
from scripts.embedded_cognito import cognito_rules

DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch):
    """Give every test dummy credentials and a fresh client, so none can reach a real account."""
    for name, value in DUMMY_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    cognito.reset_client()
    yield
    cognito.reset_client()


@pytest.fixture
def aws(monkeypatch):
    """Run the test inside moto's in-process AWS, with the embedded Cognito's rules where moto is laxer."""
    for name, rule in cognito_rules().items():
        monkeypatch.setattr(CognitoIdpBackend, name, rule)
    with mock_aws():
        yield


@pytest.fixture
def no_backoff(monkeypatch):
    """Make retry back-offs instant (botocore's, and the gateway's within a budget), so fault tests do not sleep."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(cognito.client, "backoff", lambda attempt: 0)


class QuotaClock:
    """The quota buckets' clock, moved only by the waits for their slots (which it records instead of sleeping)."""

    def __init__(self):
        self.now, self.waits = 0.0, []

    def read(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def quota_clock(monkeypatch, db):
    """Put the quota buckets on a clock of the test's own, starting from fresh buckets; nothing really waits."""
    clock = QuotaClock()
    monkeypatch.setattr(cognito.buckets, "clock", clock.read)
    monkeypatch.setattr(cognito.client, "_pause", clock.sleep)
    cognito.buckets_clear()
    yield clock
    cognito.buckets_clear()
