"""The forms of access review campaigns: starting one, and deciding items (one or many at once)."""

from django import forms

from accounts.applications import selectors as app_selectors
from accounts.audit.forms import ReasonField
from accounts.models import ReviewCampaign, ReviewItem, User
from accounts.reviews.words import SAID
from accounts.rules import permissions


def staff_users():
    """Return the local staff users who can be named reviewers (staff who signed in to the portal)."""
    return (
        User.objects.filter(is_staff=True, is_active=True, groups__name__in=permissions.DJANGO_GROUPS.values())
        .distinct()
        .order_by("email")
    )


class CampaignForm(forms.Form):
    """What a campaign reviews, who reviews it, until when, and what becomes of unanswered items."""

    name = forms.CharField(max_length=120)
    applications = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    owners_review = forms.BooleanField(required=False, label="The applications' owners review their items")
    reviewers = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="Named staff"
    )
    deadline = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        label="Deadline",
        help_text="In the portal's time zone.",
    )
    unanswered = forms.ChoiceField(choices=ReviewCampaign.UNANSWERED, label="Unanswered at the deadline")
    reason = ReasonField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["applications"].choices = [(name, name) for name in app_selectors.application_names()]
        self.fields["reviewers"].queryset = staff_users()
        self.fields["reviewers"].label_from_instance = lambda user: user.email


class ItemsField(forms.Field):
    """The chosen item ids (checkboxes named `items`)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"required": SAID["no_items"], "invalid": SAID["unknown_items"]}

    def to_python(self, value):
        """Return the ids as integers, refusing anything else."""
        try:
            return [int(part) for part in (value or [])]
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class DecideForm(forms.Form):
    """A decision on one or more items of a worklist, with its reason."""

    items = ItemsField()
    decision = forms.ChoiceField(choices=ReviewItem.DECISIONS)
    reason = ReasonField()
