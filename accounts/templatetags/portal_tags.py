"""Template filters that say things for people: an audit event's change, a moment to the second."""

from django import template

from accounts.audit import changes

register = template.Library()


@register.filter
def change_summary(event) -> str:
    """Return the event's before and after in one line (escaped by the template like any string)."""
    return changes.change_text(event.before, event.after)


@register.filter
def stamp(at) -> str:
    """Return a moment to the second with its zone."""
    return changes.when(at)
