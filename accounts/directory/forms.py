"""Forms of user administration: they check the shape of what is sent (choices, ranges); the services check
the rules, validate again for their other callers, and audit."""

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.functional import lazy

from accounts.applications import selectors as app_selectors
from accounts.audit.forms import ReasonField, ReasonForm
from accounts.directory.services import EMAIL_MAX, MESSAGES, NAME_MAX
from accounts.forms import LONGEST, LengthCheckedEmailField, LengthCheckedField
from accounts.rules import ends as end_rules
from accounts.rules import roles


def role_choices() -> list[tuple[str, str]]:
    """Return the configured roles as choices, with their names."""
    return roles.role_choices()


def application_choices() -> list[tuple[str, str]]:
    """Return the registry's applications as choices, with their descriptions."""
    return [(name, f"{name} — {text or name}") for name, text in app_selectors.application_descriptions().items()]


def unknown_applications(names) -> str:
    """Return the refusal naming the applications the registry lacks, or '' when it has them all."""
    unknown = sorted(set(names) - set(app_selectors.application_names()))
    return MESSAGES["unknown_application"].format(names=", ".join(unknown)) if unknown else ""


class RoleField(forms.ChoiceField):
    """A configured role, refused with the roles' own message."""

    def __init__(self, **kwargs):
        super().__init__(choices=role_choices, **kwargs)

    def validate(self, value):
        """Refuse a role the configuration does not have (an empty one too)."""
        if value not in roles.role_names():
            raise forms.ValidationError(roles.unknown_role_message(value), code="invalid_choice")


def level_help() -> str:
    """Return the level field's help: the range, and the levels' names when configured."""
    named = [label for value, label in roles.level_choices() if label != value]
    return f"1 to {roles.max_level()}" + (f" ({', '.join(named)})" if named else "")


class LevelField(forms.IntegerField):
    """A level from 1 to the configured maximum, refused with the roles' own message."""

    def __init__(self, **kwargs):
        message = roles.bad_level_message()
        super().__init__(
            min_value=1,
            max_value=roles.max_level(),
            initial=1,
            help_text=lazy(level_help, str)(),  # read when shown: the names are configuration
            error_messages=dict.fromkeys(("required", "invalid", "min_value", "max_value"), message),
            **kwargs,
        )


class ApplicationsField(forms.MultipleChoiceField):
    """Applications of the registry, refused with the services' message naming the unknown ones."""

    def __init__(self, **kwargs):
        super().__init__(choices=application_choices, required=False, widget=forms.CheckboxSelectMultiple, **kwargs)

    def validate(self, value):
        """Refuse applications the registry lacks, naming them all."""
        if message := unknown_applications(value):
            raise forms.ValidationError(message, code="invalid_choice")


class EndField(LengthCheckedField):
    """An end written as a date, a date and time (in the configured zone) or a duration; cleaned to UTC or None."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Ends")
        kwargs.setdefault(
            "help_text",
            f"A date (2026-12-31: the end of that day), a date and time (2026-12-31 18:00, {settings.TIME_ZONE}) "
            "or a duration (30 days); empty: no end.",
        )
        super().__init__(max_length=64, **kwargs)
        self.error_messages["required"] = end_rules.END_MALFORMED.format(zone=settings.TIME_ZONE)

    def clean(self, value):
        """Return the end in UTC (None for no end), or refuse it with the rule's message."""
        text = super().clean(value)
        try:
            return end_rules.end_parse(text, now=timezone.now())
        except end_rules.EndError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class InviteForm(forms.Form):
    """Email, name, role and level, applications."""

    email = LengthCheckedEmailField(
        max_length=EMAIL_MAX,
        help_text=LONGEST.format(max=EMAIL_MAX),
        error_messages=dict.fromkeys(("required", "invalid", "max_length"), MESSAGES["invalid_email"]),
    )
    name = LengthCheckedField(
        max_length=NAME_MAX,
        help_text=LONGEST.format(max=NAME_MAX),
        error_messages={
            key: MESSAGES["invalid_name"].format(max=NAME_MAX)
            for key in ("required", "max_length", "null_characters_not_allowed")
        },
    )
    role = RoleField()
    level = LevelField()
    applications = ApplicationsField()
    reason = ReasonField()
    expires = EndField(label="Applications until")


class RoleForm(forms.Form):
    """A new role and level; `shown` carries the role the page showed, to refuse a stale form."""

    role = RoleField()
    level = LevelField()
    shown = forms.CharField(widget=forms.HiddenInput, required=False)
    reason = ReasonField()


class AccessForm(forms.Form):
    """The applications the user should hold, all at once; `confirm` is sent by the page confirming a revoke."""

    applications = ApplicationsField()
    reason = ReasonField()
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ConfirmForm(ReasonForm):
    """The confirmation page's answer, with its reason: the action is taken only when `confirm` is sent."""

    confirm = forms.BooleanField()


class GrantUntilForm(forms.Form):
    """One application granted until an end."""

    application = forms.CharField(max_length=64, widget=forms.Select)
    expires = EndField(required=True)
    reason = ReasonField()

    def __init__(self, *args, scope: frozenset[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = application_choices()
        self.fields["application"].widget.choices = [c for c in choices if scope is None or c[0] in scope]

    def clean_application(self):
        """Refuse a staff group with the ends' own message, an unknown application with the services'."""
        value = self.cleaned_data["application"]
        if group := end_rules.staff_group_named(value):
            raise forms.ValidationError(end_rules.END_ON_STAFF.format(group=group))
        if message := unknown_applications([value]):
            raise forms.ValidationError(message)
        return value


class EndChangeForm(forms.Form):
    """A new end for a held application, or none (`remove`)."""

    application = forms.CharField(max_length=48, widget=forms.HiddenInput)
    expires = EndField(label="New end")
    remove = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reason = ReasonField()

    def clean(self):
        """Require an end unless the end is being removed."""
        data = super().clean()
        if not data.get("remove") and data.get("expires") is None and "expires" not in self.errors:
            self.add_error("expires", end_rules.END_MALFORMED.format(zone=settings.TIME_ZONE))
        return data


class RaiseForm(RoleForm):
    """A role and level held until an end, then the role held before."""

    expires = EndField(required=True, label="Until")


class DeleteForm(forms.Form):
    """The user's email, typed to confirm."""

    confirm = LengthCheckedField(label="Type the user's email address to confirm", max_length=254, required=False)
    reason = ReasonField()


def first_error(form: forms.Form) -> str:
    """Return the form's first error, in field order, for a message (nothing was changed)."""
    for errors in form.errors.values():
        return errors[0]
    return ""
