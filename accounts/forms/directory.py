"""Forms of user administration: they render the controls; the services validate and audit what is sent."""

from django import forms

from accounts import app_selectors, roles
from accounts.services import EMAIL_MAX, NAME_MAX


def role_choices() -> list[tuple[str, str]]:
    """Return the configured roles as choices."""
    return [(name, name.upper()) for name in roles.role_names()]


def application_choices() -> list[tuple[str, str]]:
    """Return the registry's applications as choices, with their descriptions."""
    return [(name, f"{name} — {text or name}") for name, text in app_selectors.application_descriptions().items()]


def level_field() -> forms.IntegerField:
    """Return a level field bounded by the configured maximum."""
    return forms.IntegerField(min_value=1, max_value=roles.max_level(), initial=1,
                              help_text=f"1 to {roles.max_level()}")


class InviteForm(forms.Form):
    """Email, name, role and level, applications."""

    email = forms.EmailField(max_length=EMAIL_MAX)
    name = forms.CharField(max_length=NAME_MAX)
    role = forms.ChoiceField(choices=role_choices)
    level = forms.IntegerField()
    applications = forms.MultipleChoiceField(choices=application_choices, required=False,
                                             widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"] = level_field()


class RoleForm(forms.Form):
    """A new role and level; `shown` carries the role the page showed, to refuse a stale form."""

    role = forms.ChoiceField(choices=role_choices)
    level = forms.IntegerField()
    shown = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"] = level_field()


class AccessForm(forms.Form):
    """The applications the user should hold, all at once."""

    applications = forms.MultipleChoiceField(choices=application_choices, required=False,
                                             widget=forms.CheckboxSelectMultiple)


class DeleteForm(forms.Form):
    """The user's email, typed to confirm."""

    confirm = forms.CharField(label="Type the user's email address to confirm", max_length=254)
