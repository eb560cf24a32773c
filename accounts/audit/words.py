"""The audit's words for the actions on access that ends, so that a person reads them apart from a revoke."""

from datetime import datetime

from accounts.rules import ends as end_rules

ACTION_WORDS = {
    "access_grant": "granted",
    "access_extend": "extended",
    "access_expire": "ended (expired)",
    "role_raise": "raised",
    "role_raise_end": "returned (raise ended)",
}


def _when(iso: str | None) -> str:
    """Return an ISO end from the audit for people, in the configured zone."""
    return end_rules.end_label(datetime.fromisoformat(iso)) if iso else ""


def end_summary(action: str, after: dict) -> str:
    """Return what an action on an end did, in words ('' for other actions or without an end)."""
    after = after or {}
    if action == "access_grant" and after.get("expires"):
        return f"granted {after.get('application', '')} until {_when(after['expires'])}"
    if action == "access_extend":
        app = after.get("application", "")
        return f"extended {app} to {_when(after['expires'])}" if after.get("expires") else f"{app}: end removed"
    if action == "access_expire":
        return f"ended (expired) {after.get('application', '')}, granted by {after.get('granted_by', '')}"
    if action == "role_raise":
        return f"raised to {after.get('role', '').upper()} until {_when(after.get('expires'))}"
    if action == "role_raise_end":
        return f"returned to {after.get('role', '').upper()} (raise ended)"
    return ""
