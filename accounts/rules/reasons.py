"""The reason or ticket given with a change: its shape, and the actions that require one (PORTAL_REASON_REQUIRED).

The reason is stored on the change's audit event (AuditEvent.reason); every write path that records an attempt
passes it to `audited(..., reason=)` or `audit_record(reason=)`, and checks it here first.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.rules.errors import InvalidInput

REASON_MAX = 500
LABEL = "Reason or ticket"
HELP = "Why, or the ticket this change answers; kept in the audit log."
REASON_REQUIRED = "Give a reason or ticket for this change ({action}): it is required. Nothing was changed."
REASON_TOO_LONG = "Keep the reason or ticket to at most {max} characters. Nothing was changed."
REASON_UNPRINTABLE = "The reason or ticket must be one line of text, without control characters. Nothing was changed."
UNKNOWN_ACTIONS = "PORTAL_REASON_REQUIRED names {names}, which take no reason; choose from: {known}."

# The audited actions that take a reason: the writes staff make through the portal's forms and bulk jobs.
ACTIONS = (
    "role_change",
    "access_set",
    "access_grant",
    "access_revoke",
    "user_disable",
    "user_enable",
    "user_reset_password",
    "user_sign_out",
    "user_delete",
    "user_invite",
    "application_create",
    "application_update",
    "application_delete",
    "api_key_issue",
    "api_key_revoke",
    "bulk_action",
    "bulk_import",
    "access_extend",
    "role_raise",
    "staff_grant",
    "staff_remove",
    "owner_assign",
    "owner_remove",
    "review_start",
    "review_decide",
)


def reason_required(action: str) -> bool:
    """Return True when the configuration requires a reason for this audited action."""
    return action in settings.PORTAL_REASON_REQUIRED


def reason_shape(reason) -> str:
    """Return the reason stripped, or raise InvalidInput when it is too long or not one line of text."""
    text = (reason or "").strip()
    if len(text) > REASON_MAX:
        raise InvalidInput(REASON_TOO_LONG.format(max=REASON_MAX))
    if not text.isprintable():
        raise InvalidInput(REASON_UNPRINTABLE)
    return text


def reason_check(*, action: str, reason) -> str:
    """Return the reason for this action stripped, or raise InvalidInput (missing where required, or malformed)."""
    text = reason_shape(reason)
    if not text and reason_required(action):
        raise InvalidInput(REASON_REQUIRED.format(action=action))
    return text


def reasons_configured() -> None:
    """Raise ImproperlyConfigured when PORTAL_REASON_REQUIRED names an action that takes no reason."""
    unknown = sorted(set(settings.PORTAL_REASON_REQUIRED) - set(ACTIONS))
    if unknown:
        raise ImproperlyConfigured(UNKNOWN_ACTIONS.format(names=", ".join(unknown), known=", ".join(ACTIONS)))
