"""The reason or ticket field that every write form carries into the audit (accounts/rules/reasons.py)."""

from django import forms

from accounts.forms import LengthCheckedField
from accounts.rules import reasons
from accounts.rules.errors import InvalidInput


class ReasonField(LengthCheckedField):
    """An optional reason or ticket, one line of at most REASON_MAX characters, refused with the rule's words."""

    def __init__(self, **kwargs):
        super().__init__(
            label=reasons.LABEL,
            help_text=reasons.HELP,
            required=False,
            max_length=reasons.REASON_MAX,
            error_messages={"max_length": reasons.REASON_TOO_LONG.format(max=reasons.REASON_MAX)},
            widget=forms.TextInput(attrs={"class": "reason", "autocomplete": "off"}),
            **kwargs,
        )

    def validate(self, value):
        """Refuse a reason that is not one line of text."""
        super().validate(value)
        try:
            reasons.reason_shape(value)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message, code="invalid") from None


class ReasonForm(forms.Form):
    """A one-step action's only field: its reason or ticket."""

    reason = ReasonField()
