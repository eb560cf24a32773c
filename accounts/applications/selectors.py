"""Reads of the application registry: the applications, their member counts and members (no Cognito call)."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Application, DirectoryEntry, DirectoryGrant
from accounts.rules import roles


def application_names() -> list[str]:
    """Return the registry's application names, sorted."""
    return list(Application.objects.order_by("name").values_list("name", flat=True))


def application_descriptions() -> dict[str, str]:
    """Return name -> description for every application."""
    return dict(Application.objects.order_by("name").values_list("name", "description"))


def application_clients() -> dict[str, str]:
    """Return each application's own app client ID ('' when it has none yet), by name."""
    return dict(Application.objects.order_by("name").values_list("name", "client_id"))


def application_get(name: str) -> Application | None:
    """Return one application, or None."""
    return Application.objects.filter(name=name).first()


def applications_with_counts() -> QuerySet:
    """Return every application annotated with `members`, counted from the directory index in the same query."""
    counts = (
        DirectoryGrant.objects.filter(application=OuterRef("name"))
        .order_by()
        .values("application")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Application.objects.annotate(
        members=Coalesce(Subquery(counts, output_field=IntegerField()), Value(0)),
    )


def member_count(name: str) -> int:
    """Return how many users the directory index shows in the application."""
    return DirectoryGrant.objects.filter(application=name).count()


def application_members(name: str, role: str = "") -> QuerySet:
    """Return the directory rows holding the application, optionally of one role ('none', 'several' too)."""
    members = DirectoryEntry.objects.filter(grants__application=name).order_by("email")
    if role:
        members = members.filter(role=roles.role_from_word(role))
    return members


def api_keys(name: str) -> QuerySet:
    """Return an application's API keys, newest first."""
    return Application.objects.get(name=name).api_keys.order_by("-created")
