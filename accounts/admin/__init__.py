"""The admin site is the frame of user administration: the directory, the user page, the audit log.

The directory is a changelist over the local index (search, filters, sort, pagination, actions: no
Cognito call); the user page and every write are custom admin views that go to Cognito through the
services. Permissions come from the predicates in accounts/rules/permissions.py, never from model perms.
Importing the package registers every screen family on `portal_site` (site.py), as Django's autodiscover does.
"""

from accounts.admin import applications, audit, bulk, directory, events  # noqa: F401  (each registers its admin)
from accounts.admin.site import portal_site

__all__ = ["portal_site"]
