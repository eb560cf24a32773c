"""Forms of bulk work: the CSV upload and the parameters of a bulk action on the directory."""

from django import forms
from django.contrib.admin.helpers import ActionForm

from accounts import app_selectors, roles
from accounts.forms.directory import role_choices


class ImportForm(forms.Form):
    """The CSV file to preview."""

    file = forms.FileField(label="CSV file", help_text="UTF-8, with or without BOM; a header row first.")


def _select(choices) -> forms.CharField:
    """Return an optional field shown as a select; the bulk action checks the value, with its own message."""
    return forms.CharField(required=False, widget=forms.Select(choices=[("", "—"), *choices]))


class BulkActionForm(ActionForm):
    """The directory's action bar, with what grant/revoke and set role need."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"] = _select([(name, name) for name in app_selectors.application_names()])
        self.fields["role"] = _select(role_choices())
        self.fields["level"] = _select([(str(n), str(n)) for n in range(1, roles.max_level() + 1)])
        for name in ("application", "role", "level"):
            self.fields[name].label = name.title()
