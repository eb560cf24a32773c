"""Settings fail fast, naming the variable; production settings pass Django's deployment checks."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.settings.base import DEVELOPMENT_SECRET_KEY, env_applications, env_bool, env_int

ROOT = Path(__file__).resolve().parent.parent


def django_process(tmp_path, *args, **variables) -> subprocess.CompletedProcess:
    """Run manage.py with a clean environment (no .env file) plus `variables`; return the result."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PORTAL_ENV_FILE": str(tmp_path / "no.env"),
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "portal.settings.base",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *(args or ["check"])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("raw", ["maybe", "2", "yes please"])
def test_env_bool_refuses_anything_but_yes_or_no(monkeypatch, raw):
    monkeypatch.setenv("PORTAL_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_FLAG must be true or false"):
        env_bool("PORTAL_TEST_FLAG", False)


@pytest.mark.parametrize(("raw", "expected"), [("TRUE", True), ("on", True), ("0", False), ("", False)])
def test_env_bool_reads_clear_values(monkeypatch, raw, expected):
    monkeypatch.setenv("PORTAL_TEST_FLAG", raw)
    assert env_bool("PORTAL_TEST_FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["ten", "3.5", "0", "101", ""])
def test_env_int_refuses_malformed_or_out_of_range(monkeypatch, raw):
    monkeypatch.setenv("PORTAL_TEST_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_NUMBER must be a whole number from 1 to 100"):
        env_int("PORTAL_TEST_NUMBER", 5, minimum=1, maximum=100)


def test_env_int_reads_a_number_in_range(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_NUMBER", " 42 ")
    assert env_int("PORTAL_TEST_NUMBER", 5, minimum=1, maximum=100) == 42


@pytest.mark.parametrize("raw", ["Billing=Money", "9lives=Cats", "ok=Fine;bad name=Oops", " ; ;"])
def test_env_applications_refuses_bad_names_or_none(monkeypatch, raw):
    monkeypatch.setenv("PORTAL_TEST_APPS", raw)
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_APPS"):
        env_applications("PORTAL_TEST_APPS", "x=y")


def test_env_applications_reads_names_and_descriptions(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_APPS", "billing=Billing and invoices; crm ;")
    assert env_applications("PORTAL_TEST_APPS", "x=y") == {"billing": "Billing and invoices", "crm": "crm"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_DEBUG", "perhaps"),
        ("COGNITO_MAX_ATTEMPTS", "0"),
        ("PORTAL_APPLICATIONS", "Bad Name=x"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("PORTAL_ROLES", "a,B!"),
    ],
)
def test_start_up_stops_naming_a_malformed_variable(tmp_path, name, value):
    result = django_process(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_production_settings_without_a_secret_key_stop_naming_it(tmp_path):
    result = django_process(
        tmp_path, DJANGO_SETTINGS_MODULE="portal.settings.production", DJANGO_ALLOWED_HOSTS="portal.example.com"
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_refuse_the_public_development_key(tmp_path):
    result = django_process(
        tmp_path,
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        DJANGO_SECRET_KEY=DEVELOPMENT_SECRET_KEY,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is the public development key" in result.stderr


@pytest.mark.parametrize("preload", ["false", "true"])
def test_production_settings_pass_the_deployment_checklist(tmp_path, preload):
    result = django_process(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        DJANGO_HSTS_PRELOAD=preload,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_embedded_mode_is_refused_with_an_endpoint_off_loopback(tmp_path):
    result = django_process(
        tmp_path, COGNITO_EMBEDDED="true", COGNITO_ENDPOINT_URL="https://cognito-idp.us-east-1.amazonaws.com"
    )
    assert result.returncode != 0
    assert "COGNITO_EMBEDDED=true needs COGNITO_ENDPOINT_URL on loopback" in result.stderr


def test_embedded_mode_is_accepted_with_a_loopback_endpoint(tmp_path):
    result = django_process(tmp_path, COGNITO_EMBEDDED="true", COGNITO_ENDPOINT_URL="http://127.0.0.1:5001")
    assert result.returncode == 0, result.stderr


def test_env_example_documents_every_variable_the_settings_read():
    source = "".join((ROOT / "portal" / "settings" / name).read_text() for name in ("base.py", "production.py"))
    read = set(
        re.findall(
            r'(?:env(?:\.\w+)?|env_bool|env_int|env_applications|env_quotas|env_share)\(\s*"([A-Z][A-Z0-9_]+)"', source
        )
    )
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert len(read) > 30
    assert read - documented == set()


@pytest.mark.parametrize("raw", ["0", "24,abc", "3000", "-5"])
def test_review_reminder_hours_refuse_anything_but_whole_hours_in_range(tmp_path, raw):
    result = django_process(tmp_path, PORTAL_REVIEW_REMINDER_HOURS=raw)
    assert result.returncode != 0
    assert "PORTAL_REVIEW_REMINDER_HOURS: whole hours from 1 to 2160 each" in result.stderr
