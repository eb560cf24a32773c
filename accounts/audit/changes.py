"""An audit event's before and after, said for people in one line: "role: B2 → A3", "applications: +billing −crm"."""

from django.utils import timezone

from accounts.rules import roles

ARROW, ADDED, REMOVED, NOTHING = "→", "+", "−", "—"
LIST_MAX = 160  # characters of the audit list's change column; the event's page shows it whole
STAMP = "%Y-%m-%d %H:%M:%S %Z"
# Keys said as part of another: the applications' difference already names what was granted and revoked.
FOLDED = {"applications": ("granted", "revoked")}
LABELS = {"role": roles.key_label}


def when(at) -> str:
    """Return a moment to the second with its zone, in the portal's time zone: '2026-12-01 12:31:15 UTC'."""
    return timezone.localtime(at).strftime(STAMP) if at else ""


def value_text(key: str, value) -> str:
    """Return one value for people: yes/no, a list joined, a role as its label."""
    if value is None or value == "" or value == []:
        return "none" if isinstance(value, list) else NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(key, item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{name}={value_text(name, item)}" for name, item in value.items())
    return LABELS[key](value) if key in LABELS and isinstance(value, str) else str(value)


def _applications(before: list, after: list) -> str:
    """Return the difference of two application lists: '+billing −crm' ('unchanged' when none)."""
    added = [f"{ADDED}{app}" for app in sorted(set(after) - set(before))]
    removed = [f"{REMOVED}{app}" for app in sorted(set(before) - set(after))]
    return " ".join(added + removed) or "unchanged"


def _part(key: str, before: dict, after: dict) -> str:
    """Return what happened to one key: 'key: a → b', 'key: b', or 'key: a → —'."""
    name = key.replace("_", " ")
    if key == "applications" and isinstance(before.get(key), list) and isinstance(after.get(key), list):
        return f"{name}: {_applications(before[key], after[key])}"
    if key not in before:
        return f"{name}: {value_text(key, after[key])}"
    if key not in after:
        return f"{name} was {value_text(key, before[key])}"
    if before[key] == after[key]:
        return f"{name}: {value_text(key, after[key])} (unchanged)"
    return f"{name}: {value_text(key, before[key])} {ARROW} {value_text(key, after[key])}"


def change_text(before: dict | None, after: dict | None) -> str:
    """Return an event's change in one line, the keys in the order they were recorded ('' for none)."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    folded = {hidden for key in keys if key in before for hidden in FOLDED.get(key, ())}
    skipped = folded | ({"unchanged"} if after.get("unchanged") is True else set())
    return "; ".join(_part(key, before, after) for key in keys if key not in skipped)


def change_short(before: dict | None, after: dict | None) -> str:
    """Return the change cut to LIST_MAX characters (with '…' when cut), for lists of events."""
    text = change_text(before, after)
    return text if len(text) <= LIST_MAX else text[: LIST_MAX - 1] + "…"
