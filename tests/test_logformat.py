"""The log's formatter: every event stays one line, whatever a request put in a logged value."""

import logging
import sys
from http import HTTPStatus

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from accounts import cognito
from accounts.logformat import escape_controls
from accounts.signin.middleware import cognito_fault_response

pytestmark = pytest.mark.django_db


def console_formatter() -> logging.Formatter:
    """Return the formatter of the console handler that settings.LOGGING configured."""
    return next(handler.formatter for handler in logging.getLogger().handlers if handler.name == "console")


@pytest.mark.parametrize(
    "value, written",
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("\x1b[31m", "\\x1b[31m"),
        ("a\u2028b", "a\\u2028b"),
        ("\x85", "\\x85"),
        ("plain é", "plain é"),
    ],
)
def test_control_characters_are_written_as_escapes(value, written):
    assert escape_controls(value) == written


def test_a_newline_in_a_requested_path_cannot_forge_a_log_line(caplog):
    request = RequestFactory().get("/no-such-page%0A2026-12-01 10:00:00,000 INFO accounts.audit forged/")
    request.user = AnonymousUser()
    with caplog.at_level(logging.WARNING, logger="accounts.middleware"):
        response = cognito_fault_response(request, cognito.CognitoUnavailable())
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    lines = [console_formatter().format(record) for record in caplog.records if record.name == "accounts.middleware"]
    assert len(lines) == 1 and "\n" not in lines[0] and "page\\n2026-12-01" in lines[0]


def test_a_traceback_keeps_its_lines():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord({"msg": "failed: %s", "args": ("x\ny",), "exc_info": sys.exc_info()})
    text = console_formatter().format(record)
    assert text.splitlines()[0].endswith("failed: x\\ny") and "Traceback" in text.splitlines()[1]
