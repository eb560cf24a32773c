"""Application owners as reviewers: who reviews an application's access when a campaign asks its owners."""

from accounts.models import User
from accounts.signin.staff.selectors import application_owners, owned_applications


def application_reviewers(application: str) -> list[User]:
    """Return the enabled owners of an application (read live from Cognito) who have a portal account."""
    subs = [owner.sub for owner in application_owners(application) if owner.enabled]
    return list(User.objects.filter(cognito_sub__in=subs, is_active=True).order_by("email"))


def still_owner(user: User, application: str) -> bool:
    """Return True while the user owns the application, as their standing was last read live."""
    return application in owned_applications(user)
