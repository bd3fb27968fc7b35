"""The preferences form: one choice per event kind."""

from django import forms

from coe.choices import EventKind
from notify.choices import Channel


class PreferencesForm(forms.Form):
    """A channel (immediately, daily digest, off) for each kind of event."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in EventKind:
            self.fields[kind.value] = forms.ChoiceField(
                label=kind.label, choices=Channel.choices, initial=Channel.IMMEDIATELY
            )
