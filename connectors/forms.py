"""CoE staff's connector form: settings checked by the kind's adapter, credentials
write-only (never rendered back; empty keeps the stored ones)."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from coe.scoping import visible_factories
from connectors import services
from connectors.choices import ConnectorKind
from connectors.models import Connector


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value back (not even the one just sent)."""

    def format_value(self, value):
        return None


class ConnectorForm(forms.Form):
    factory = forms.ModelChoiceField(label="Factory", queryset=None)
    name = forms.CharField(label="Name", max_length=200)
    kind = forms.ChoiceField(label="Kind", choices=ConnectorKind.choices)
    settings = forms.JSONField(
        label="Settings",
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="A JSON object; the keys depend on the kind (host, port, path, …).",
    )
    credentials = forms.CharField(
        label="Credentials",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text=(
            'A JSON object such as {"token": "…"}, stored encrypted and never shown again. '
            "Left empty: the stored credentials stay."
        ),
    )
    clear_credentials = forms.BooleanField(label="Clear stored credentials", required=False)
    schedule = forms.CharField(
        label="Schedule",
        required=False,
        max_length=40,
        help_text='Empty: manual only. Minutes ("15"), @hourly, @daily or */N * * * *.',
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)

    def __init__(self, *args, user, instance: Connector | None = None, **kwargs):
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "factory": instance.factory_id,
                    "name": instance.name,
                    "kind": instance.kind,
                    "settings": instance.settings,
                    "schedule": instance.schedule,
                    "enabled": instance.enabled,
                },
            )
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["factory"].queryset = visible_factories(user).order_by("name")
        if instance is None:
            del self.fields["clear_credentials"]
        else:
            # A connector stays in its factory and kind: its data and cursor belong there.
            self.fields["factory"].disabled = True
            self.fields["kind"].disabled = True

    def clean_settings(self):
        value = self.cleaned_data.get("settings")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError("Settings must be a JSON object.")
        return value

    def clean_credentials(self):
        text = self.cleaned_data.get("credentials", "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Not JSON: {exc.msg} (line {exc.lineno}).") from exc
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ValidationError("Credentials must be a JSON object of fields.")
        return value

    def save(self) -> Connector | None:
        """The connector created or changed; None (with field errors) when the model
        refuses the settings or the schedule."""
        data = self.cleaned_data
        credentials = data["credentials"]
        if self.instance is not None and data.get("clear_credentials"):
            credentials = {}
        try:
            if self.instance is None:
                return services.connector_create(
                    factory=data["factory"],
                    name=data["name"],
                    kind=data["kind"],
                    settings=data["settings"],
                    credentials=credentials,
                    schedule=data["schedule"],
                    enabled=data["enabled"],
                )
            return services.connector_update(
                connector=self.instance,
                credentials=credentials,
                name=data["name"],
                settings=data["settings"],
                schedule=data["schedule"],
                enabled=data["enabled"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                target = field if field in self.fields else None
                if field == "__all__" or target is None:
                    self.add_error(None, [f"{field}: {e}" for e in errors])
                else:
                    self.add_error(target, errors)
            return None
