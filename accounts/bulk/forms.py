"""Forms of bulk work: the CSV upload, the parameters of a bulk action on the directory, resuming a job."""

from django import forms
from django.contrib.admin.helpers import ActionForm

from accounts.applications import selectors as app_selectors
from accounts.audit.forms import ReasonField
from accounts.directory.forms import EndField, LevelField, RoleField, role_choices, unknown_applications
from accounts.directory.services import MESSAGES
from accounts.forms import LengthCheckedField
from accounts.rules import roles


class ImportForm(forms.Form):
    """The CSV file to preview."""

    file = forms.FileField(label="CSV file", help_text="UTF-8, with or without BOM; a header row first.")
    reason = ReasonField()


class ApplicationField(forms.CharField):
    """One application of the registry, refused with the services' message."""

    def validate(self, value):
        """Refuse an empty or unknown application."""
        if not value:
            raise forms.ValidationError(MESSAGES["unknown_application"].format(names="(none)"), code="required")
        if message := unknown_applications([value]):
            raise forms.ValidationError(message, code="invalid_choice")


PARAMETERS = {"application": ApplicationField, "role": RoleField, "level": LevelField, "expires": EndField}


class BulkParametersForm(forms.Form):
    """What one bulk action needs from the action bar: its application, or its role and level; and its reason."""

    def __init__(self, *args, needs: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        for name in needs:
            self.fields[name] = PARAMETERS[name]()
        self.fields["reason"] = ReasonField()


def _select(choices) -> forms.CharField:
    """Return an optional field shown as a select; BulkParametersForm checks it for the action chosen."""
    return forms.CharField(required=False, widget=forms.Select(choices=[("", "—"), *choices]))


class BulkActionForm(ActionForm):
    """The directory's action bar, with what grant/revoke and set role need."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"] = _select([(name, name) for name in app_selectors.application_names()])
        self.fields["role"] = _select(role_choices())
        self.fields["level"] = _select(roles.level_choices())
        for name in ("application", "role", "level"):
            self.fields[name].label = name.title()
        self.fields["reason"] = ReasonField()
        self.fields["expires"] = LengthCheckedField(required=False, max_length=64, label="Until (grant)")
        self.fields["expires"].widget.attrs.update(placeholder="empty, 2026-12-31 or 30 days", size=14)


class ResumeForm(forms.Form):
    """Resume a job; retry=failed puts its failed rows back too."""

    retry = forms.ChoiceField(choices=[("", "the rows not done"), ("failed", "the failed rows too")], required=False)
