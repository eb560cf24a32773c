"""Forms of the events screens: they check the shape; the events services check the rules and audit."""

from django import forms

from accounts.audit.outbox import event_types
from accounts.models import Application, Subscription

URL_MAX = 2048


class SubscriptionForm(forms.Form):
    """A new subscription: the application, where to, which events, in which format."""

    application = forms.ChoiceField(choices=())
    format = forms.ChoiceField(choices=Subscription.FORMATS, initial=Subscription.WEBHOOK)
    url = forms.CharField(
        label="Endpoint URL",
        max_length=URL_MAX,
        required=False,
        help_text="https:// (http:// only to loopback when the portal allows it); empty for a polled subscription.",
        widget=forms.TextInput(attrs={"class": "vLargeTextField"}),
    )
    types = forms.MultipleChoiceField(
        label="Event types",
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = Application.objects.order_by("name").values_list("name", flat=True)
        self.fields["application"].choices = [(name, name) for name in names]
        self.fields["types"].choices = [(kind, kind) for kind in event_types()]


class ReplayForm(forms.Form):
    """Replay the deliveries of a subscription from one event on."""

    event = forms.IntegerField(min_value=1)


class ExportForm(forms.Form):
    """The export's cursor."""

    after = forms.IntegerField(min_value=0, required=False)
