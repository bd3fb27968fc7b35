"""CoE staff's connector form: a labelled field per setting of the connector's kind
(``connectors.kind_fields``), an "Advanced settings" JSON object for the rest, and the
kind's credentials write-only (never rendered back; left empty, the stored ones stay).
The kind's adapter checks the settings; its complaint lands on the field it names."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from coe.scoping import visible_factories
from connectors import kind_fields, services
from connectors.choices import ConnectorKind
from connectors.facts import CurrencyRate
from connectors.models import Connector


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value back (not even the one just sent)."""

    def format_value(self, value):
        return None


def _setting_field(spec: kind_fields.Setting) -> forms.Field:
    common = {"label": spec.label, "required": spec.required, "help_text": spec.help}
    if spec.type == "int":
        return forms.IntegerField(**common)
    if spec.type == "number":
        return forms.FloatField(**common)
    if spec.type == "bool":
        return forms.BooleanField(label=spec.label, required=False, initial=True)
    if spec.type == "choice":
        return forms.ChoiceField(choices=spec.choices, initial=spec.choices[0][0], **common)
    if spec.type == "list":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    return forms.CharField(max_length=500, **common)


def _secret_field(spec: kind_fields.Secret) -> forms.Field:
    widget = (
        WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"})
        if spec.multiline
        else forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    )
    return forms.CharField(
        label=spec.label,
        required=False,
        widget=widget,
        help_text=spec.help or "Stored encrypted, never shown again; empty keeps the stored one.",
    )


class ConnectorForm(forms.Form):
    """The form of one ``kind``; on a new connector the "Kind" select reloads the form
    with the chosen kind's fields (``static/js/forms.js``; without script, the first send
    with another kind shows its fields, filled with what was typed, and saves nothing)."""

    factory = forms.ModelChoiceField(label="Factory", queryset=None)
    name = forms.CharField(label="Name", max_length=200)
    advanced = forms.JSONField(
        label="Advanced settings",
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="A JSON object for the settings without a field above (mappings, registers…).",
    )
    clear_credentials = forms.BooleanField(label="Clear stored credentials", required=False)
    schedule = forms.CharField(
        label="Schedule",
        required=False,
        max_length=40,
        help_text='Empty: manual only. Minutes ("15"), @hourly, @daily or */N * * * *.',
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)

    def __init__(self, *args, user, kind: str, instance: Connector | None = None, **kwargs):
        self.kind = instance.kind if instance is not None else kind
        self.settings_specs = kind_fields.SETTINGS.get(self.kind, ())
        self.secret_specs = kind_fields.SECRETS.get(self.kind, ())
        covered = {s.key for s in self.settings_specs}
        if instance is not None:
            initial = {
                "factory": instance.factory_id,
                "name": instance.name,
                "schedule": instance.schedule,
                "enabled": instance.enabled,
                "advanced": {k: v for k, v in instance.settings.items() if k not in covered},
            }
            for spec in self.settings_specs:
                if spec.key in instance.settings:
                    value = instance.settings[spec.key]
                    if spec.type == "list" and isinstance(value, list):
                        value = "\n".join(str(v) for v in value)
                    initial[kind_fields.setting_field_name(spec.key)] = value
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["factory"].queryset = visible_factories(user).order_by("name")
        # The kind's fields go after the name, in the order of the kind's table.
        fields = dict(self.fields)
        ordered = {"factory": fields.pop("factory"), "name": fields.pop("name")}
        ordered["kind"] = forms.ChoiceField(
            label="Kind",
            choices=[("", "Choose a kind")] + list(ConnectorKind.choices),
            initial=self.kind,
            help_text="Each kind has its own settings; choosing one shows them.",
            widget=forms.Select(attrs={"data-reload-with": "kind"}),
        )
        ordered["shown_kind"] = forms.CharField(
            required=False, initial=self.kind, widget=forms.HiddenInput
        )
        for spec in self.settings_specs:
            ordered[kind_fields.setting_field_name(spec.key)] = _setting_field(spec)
        ordered["advanced"] = fields.pop("advanced")
        for spec in self.secret_specs:
            ordered[kind_fields.secret_field_name(spec.key)] = _secret_field(spec)
        ordered.update(fields)
        self.fields = ordered
        if instance is None or not self.secret_specs:
            del self.fields["clear_credentials"]
        if not self.kind:  # the kind comes first: its fields follow once it is chosen
            del self.fields["advanced"]
        if instance is not None:
            # A connector stays in its factory and kind: its data and cursor belong there.
            self.fields["factory"].disabled = True
            self.fields["kind"].disabled = True
            self.fields["kind"].initial = instance.kind
            self.fields["kind"].help_text = ""
            del self.fields["shown_kind"]

    def kind_switched(self) -> bool:
        """The form was sent with another kind than the one whose fields it showed."""
        sent = self.data.get("kind", "")
        return self.instance is None and (not sent or sent != self.data.get("shown_kind"))

    def clean_advanced(self):
        value = self.cleaned_data.get("advanced")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError("Advanced settings must be a JSON object.")
        return value

    def settings_value(self) -> dict:
        """The settings sent: the advanced object, then each filled field over it."""
        settings = dict(self.cleaned_data.get("advanced") or {})
        for spec in self.settings_specs:
            value = self.cleaned_data.get(kind_fields.setting_field_name(spec.key))
            if spec.type == "bool":
                settings[spec.key] = bool(value)
                continue
            if value in (None, ""):
                settings.pop(spec.key, None)
                continue
            if spec.type == "list":
                value = [line.strip() for line in value.splitlines() if line.strip()]
            settings[spec.key] = value
        return settings

    def credentials_value(self) -> dict | None:
        """The credentials to store: ``None`` keeps the stored ones, ``{}`` clears them."""
        sent = {
            spec.key: self.cleaned_data[kind_fields.secret_field_name(spec.key)]
            for spec in self.secret_specs
            if self.cleaned_data.get(kind_fields.secret_field_name(spec.key))
        }
        if self.instance is None:
            return sent or None
        if self.cleaned_data.get("clear_credentials"):
            return sent
        if not sent:
            return None
        return {**self.instance.credentials, **sent}

    def _place(self, field: str, errors) -> None:
        """Put the model's complaint on the field it is about."""
        for error in errors:
            match = re.match(r"^([a-z_]+)(?:/[a-z_]+)?[:.]", str(error))
            name = kind_fields.setting_field_name(match.group(1)) if match else ""
            if field == "settings" and name in self.fields:
                self.add_error(name, error)
            elif field == "settings":
                self.add_error("advanced", error)
            elif field in self.fields:
                self.add_error(field, error)
            else:
                self.add_error(None, f"{field}: {error}")

    def save(self) -> Connector | None:
        """The connector created or changed; None (with field errors) when the model
        refuses the settings or the schedule."""
        data = self.cleaned_data
        try:
            if self.instance is None:
                return services.connector_create(
                    factory=data["factory"],
                    name=data["name"],
                    kind=self.kind,
                    settings=self.settings_value(),
                    credentials=self.credentials_value(),
                    schedule=data["schedule"],
                    enabled=data["enabled"],
                )
            return services.connector_update(
                connector=self.instance,
                credentials=self.credentials_value(),
                name=data["name"],
                settings=self.settings_value(),
                schedule=data["schedule"],
                enabled=data["enabled"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self._place(field, errors)
            return None


def kind_label(kind: str) -> str:
    return dict(ConnectorKind.choices).get(kind, kind)


class CurrencyRateForm(forms.ModelForm):
    """A conversion rate for ROI: 1 ``from`` is worth ``rate`` ``to`` (one per pair)."""

    class Meta:
        model = CurrencyRate
        fields = ["from_currency", "to_currency", "rate"]
        labels = {"from_currency": "From currency", "to_currency": "To currency", "rate": "Rate"}
        help_texts = {
            "from_currency": "ISO 4217 code, such as USD.",
            "to_currency": "ISO 4217 code, such as EUR (a factory's currency).",
            "rate": "How many of the second currency one of the first is worth.",
        }

    def _code(self, field: str) -> str:
        code = (self.cleaned_data.get(field) or "").strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValidationError("Enter a three-letter ISO 4217 code, such as EUR.")
        return code

    def clean_from_currency(self):
        return self._code("from_currency")

    def clean_to_currency(self):
        return self._code("to_currency")

    def clean_rate(self):
        rate = self.cleaned_data.get("rate")
        if rate is not None and rate <= 0:
            raise ValidationError("A rate is greater than zero.")
        return rate

    def clean(self):
        data = super().clean()
        source, target = data.get("from_currency"), data.get("to_currency")
        if source and source == target:
            self.add_error("to_currency", "A rate converts between two different currencies.")
        return data
