"""Old home of the staff fixtures and helpers, kept for the imports that still name it: use tests.support.staff.

The fixtures need no import at all (tests/conftest.py registers tests/support/ as plugins).
"""

from tests.support.aws import no_backoff
from tests.support.staff import (
    admin_client,
    admin_user,
    alice,
    helpdesk_client,
    helpdesk_user,
    index_user,
    local_staff,
    nonstaff_user,
    persona_client,
    user_url,
)

__all__ = [
    "admin_client",
    "admin_user",
    "alice",
    "helpdesk_client",
    "helpdesk_user",
    "index_user",
    "local_staff",
    "no_backoff",
    "nonstaff_user",
    "persona_client",
    "user_url",
]
