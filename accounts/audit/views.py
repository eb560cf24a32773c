"""The audit log's CSV export (the audit screen itself is the admin changelist)."""

import json

from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.audit.csvexport import lines
from accounts.rules import permissions, roles

COLUMNS = [
    "at",
    "actor",
    "actor_sub",
    "action",
    "target",
    "target_sub",
    "outcome",
    "error",
    "client_ip",
    "reason",
    "role_change",
    "before",
    "after",
]


def role_change(event) -> str:
    """Return the roles an event records, for people: 'Viewer · Basic (A1) → Editor · Full (B3)', or ''."""
    keys = [values.get("role") for values in (event.before, event.after) if isinstance(values, dict)]
    return " → ".join(roles.key_label(key) for key in keys if isinstance(key, str) and key)


def _values(events):
    """Yield one row of values per event."""
    for event in events.iterator(chunk_size=2000):
        values = [getattr(event, name) for name in COLUMNS[:-3]] + [role_change(event), None, None]
        values[0] = event.at.isoformat()
        values[-2:] = [json.dumps(event.before, sort_keys=True), json.dumps(event.after, sort_keys=True)]
        yield values


def _rows(events):
    """Yield the CSV lines: the header, then one line per event."""
    return lines(COLUMNS, _values(events))


def export_csv(request, admin):
    """Stream the audit events the current filters select, as CSV."""
    if not permissions.can_view_audit(request.user):
        raise PermissionDenied
    events = admin.get_changelist_instance(request).get_queryset(request)
    response = StreamingHttpResponse(_rows(events), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
