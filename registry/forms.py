"""Page forms for CoE staff's registry: tools, capabilities, processes and versions."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from registry.models import Capability, Process, ProcessVersion, Tool

TOOL_LABELS = {
    "name": "Name",
    "slug": "Slug",
    "vendor": "Vendor",
    "capabilities": "Capabilities",
    "homepage": "Homepage",
    "description": "Description",
    "licence_model": "Licence model",
    "annual_cost_per_seat": "Annual cost per seat",
    "owner": "Owner",
    "ring": "Ring",
    "introduced_on": "Introduced on",
    "sunset_on": "Sunset on",
}


class ToolForm(forms.ModelForm):
    """A tool's profile. The ring is set when the tool is created; later changes go
    through the ring form, which records a reason."""

    class Meta:
        model = Tool
        fields = [
            "name",
            "slug",
            "vendor",
            "capabilities",
            "homepage",
            "licence_model",
            "annual_cost_per_seat",
            "owner",
            "ring",
            "introduced_on",
            "sunset_on",
            "description",
        ]
        labels = TOOL_LABELS
        widgets = {
            "introduced_on": forms.DateInput(attrs={"type": "date"}),
            "sunset_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = "Left empty: made from the name."
        if self.instance.pk:
            del self.fields["ring"]

    def clean(self):
        data = super().clean()
        start, end = data.get("introduced_on"), data.get("sunset_on")
        if start and end and end < start:
            self.add_error("sunset_on", "The sunset date comes after the introduction date.")
        return data


class CapabilityForm(forms.ModelForm):
    class Meta:
        model = Capability
        fields = ["name", "slug", "parent", "applies_to", "order", "description"]
        labels = {
            "name": "Name",
            "slug": "Slug",
            "parent": "Parent",
            "applies_to": "Applies to",
            "order": "Order",
            "description": "Description",
        }

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        node = parent
        while node is not None and self.instance.pk:
            if node.pk == self.instance.pk:
                raise ValidationError("A capability cannot sit under itself.")
            node = node.parent
        return parent


class ProcessForm(forms.ModelForm):
    class Meta:
        model = Process
        fields = ["name", "slug", "capability", "owner", "owner_factory", "description"]
        labels = {
            "name": "Name",
            "slug": "Slug",
            "capability": "Capability",
            "owner": "Owner",
            "owner_factory": "Owner factory",
            "description": "Description",
        }


class ProcessVersionForm(forms.ModelForm):
    links_text = forms.CharField(
        label="Links",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One URL per line.",
    )

    class Meta:
        model = ProcessVersion
        fields = ["version", "released_on", "steps"]
        labels = {"version": "Version", "released_on": "Released on", "steps": "Steps"}
        widgets = {"released_on": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, process: Process, **kwargs):
        super().__init__(*args, **kwargs)
        self.process = process
        self.instance.process = process

    def clean_version(self):
        version = self.cleaned_data["version"].strip()
        taken = ProcessVersion.objects.filter(process=self.process, version=version)
        if taken.exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"{self.process} already has a version {version}.")
        return version

    def clean_links_text(self):
        links = [line.strip() for line in self.cleaned_data["links_text"].splitlines()]
        links = [link for link in links if link]
        check = URLValidator(schemes=["http", "https"])
        for link in links:
            try:
                check(link)
            except ValidationError as exc:
                raise ValidationError(f"Not a web address: {link}") from exc
        return links

    def save(self, commit=True):
        self.instance.links = self.cleaned_data["links_text"]
        return super().save(commit=commit)
