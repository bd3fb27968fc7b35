"""Page forms for CoE staff: factories and memberships (server-side validation)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from coe.choices import Role
from coe.models import Factory, Membership


class FactoryForm(forms.ModelForm):
    class Meta:
        model = Factory
        fields = [
            "name",
            "slug",
            "kind",
            "business_unit",
            "site",
            "region",
            "currency",
            "audit_cadence_months",
            "description",
        ]
        labels = {
            "name": "Name",
            "slug": "Slug",
            "kind": "Kind",
            "business_unit": "Business unit",
            "site": "Site",
            "region": "Region",
            "currency": "Currency",
            "audit_cadence_months": "Audit cadence (months)",
            "description": "Description",
        }

    def clean_currency(self):
        code = self.cleaned_data["currency"].strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise forms.ValidationError("Enter a three-letter ISO 4217 code, such as EUR.")
        return code


class MembershipForm(forms.Form):
    """Add a user to a factory in a role (a user already in it gets a field error)."""

    user = forms.ModelChoiceField(
        label="User",
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args, factory: Factory, **kwargs):
        super().__init__(*args, **kwargs)
        self.factory = factory

    def clean_user(self):
        user = self.cleaned_data["user"]
        if Membership.objects.filter(factory=self.factory, user=user).exists():
            raise forms.ValidationError(f"{user.username} already belongs to {self.factory}.")
        return user

    def save(self) -> Membership:
        return Membership.objects.create(
            factory=self.factory,
            user=self.cleaned_data["user"],
            role=self.cleaned_data["role"],
        )
