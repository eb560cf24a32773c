"""Forms of staff management: the shape of what is sent; the services check the rules."""

from django import forms

from accounts.audit.forms import ReasonField
from accounts.rules import permissions

STANDING_CHOICES = [(name, label) for name, label in permissions.STANDING_LABELS.items()]


class GrantForm(forms.Form):
    """A user's email and the standing to give them; `confirm` is sent by the confirmation page."""

    email = forms.EmailField(max_length=254, error_messages={"required": "Enter the user's email address."})
    standing = forms.ChoiceField(choices=STANDING_CHOICES, initial=permissions.HELPDESK)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reason = ReasonField()


class RemoveForm(forms.Form):
    """The standing to take away."""

    standing = forms.ChoiceField(choices=STANDING_CHOICES)
    reason = ReasonField()
