"""The seam to application owners: who reviews an application's access when a campaign asks its owners.

Application owners are another domain (issue 17, item 1). Until they exist these return nothing, and every
item of a campaign that asks the owners goes to its named staff, or else to the administrators.
"""

from accounts.models import User


def application_reviewers(application: str) -> list[User]:
    """Return the owners of an application, who review its access (none until application owners exist)."""
    return []


def still_owner(user: User, application: str) -> bool:
    """Return True while the user owns the application (nobody does until application owners exist)."""
    return False
