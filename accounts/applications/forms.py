"""Forms of the application registry: they check the shape of what is sent; the registry services check the
rules (a name taken, a value Cognito cannot clear), validate again for their other callers, and audit."""

from django import forms
from django.core.validators import RegexValidator

from accounts.applications.services import DESCRIPTION_MAX, NAME, PRECEDENCE_MAX, ROLE_ARN, SAID
from accounts.audit.forms import ReasonField
from accounts.forms import LengthCheckedField
from accounts.rules import roles

ARN_MAX = 2048


def _all(message: str, *codes: str) -> dict[str, str]:
    """Return error_messages giving the same message for every code."""
    return dict.fromkeys(codes, message)


class ApplicationForm(forms.Form):
    """An application's description, IAM role and precedence."""

    description = LengthCheckedField(
        max_length=DESCRIPTION_MAX,
        required=False,
        widget=forms.TextInput(attrs={"class": "vLargeTextField"}),
        error_messages=_all(
            SAID["bad_description"].format(max=DESCRIPTION_MAX), "max_length", "null_characters_not_allowed"
        ),
    )
    role_arn = LengthCheckedField(
        label="IAM role ARN",
        max_length=ARN_MAX,
        required=False,
        validators=[RegexValidator(ROLE_ARN, SAID["bad_arn"])],
        error_messages=_all(SAID["bad_arn"], "max_length"),
        widget=forms.TextInput(
            attrs={"class": "vLargeTextField", "placeholder": "arn:aws:iam::123456789012:role/billing-api"}
        ),
        help_text="Members get this role in their tokens (to reach the application's Lambda services). Optional.",
    )
    precedence = forms.IntegerField(
        min_value=0,
        max_value=PRECEDENCE_MAX,
        required=False,
        error_messages=_all(SAID["bad_precedence"].format(max=PRECEDENCE_MAX), "invalid", "min_value", "max_value"),
        help_text="0 or more; lower wins when a user's groups carry several IAM roles. Optional.",
    )
    reason = ReasonField()


class NewApplicationForm(ApplicationForm):
    """A new application: its name, then its settings."""

    name = LengthCheckedField(
        max_length=48,
        validators=[RegexValidator(NAME, SAID["bad_name"])],
        error_messages=_all(SAID["bad_name"], "required", "max_length"),
        help_text="Lower-case letters, digits and '-', starting with a letter.",
    )
    field_order = ["name", "description", "role_arn", "precedence", "reason"]


class ApplicationDeleteForm(forms.Form):
    """The application's name, typed to confirm when it has members."""

    confirm = LengthCheckedField(
        label="Application name", max_length=48, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    reason = ReasonField()


class MemberListForm(forms.Form):
    """Where the member list was (its role filter and page), to go back to after removing a member."""

    role = forms.ChoiceField(choices=lambda: [("", "All"), *roles.role_filter_choices()], required=False)
    page = forms.IntegerField(min_value=1, required=False)


class OwnerAssignForm(forms.Form):
    """The email of the user to make an owner of the application, and the reason."""

    email = forms.EmailField(max_length=254, label="Email of the new owner")
    reason = ReasonField()


class MemberAddForm(forms.Form):
    """The email of the user to grant the application to, and the reason."""

    email = forms.EmailField(max_length=254, label="Grant to (email)")
    reason = ReasonField()
