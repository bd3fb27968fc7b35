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


class InviteForm(forms.Form):
    """Invite someone by e-mail: an account that stays inactive until they set a password
    through the link they receive; optionally a role in one factory, or CoE staff."""

    email = forms.EmailField(label="E-mail", max_length=254)
    username = forms.CharField(
        label="Username",
        required=False,
        max_length=150,
        help_text="The part of the e-mail before @ when empty.",
    )
    first_name = forms.CharField(label="First name", required=False, max_length=150)
    last_name = forms.CharField(label="Last name", required=False, max_length=150)
    factory = forms.ModelChoiceField(
        label="Factory",
        required=False,
        queryset=Factory.objects.order_by("name"),
        help_text="The factory they join; none when empty.",
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)
    coe_staff = forms.BooleanField(label="CoE staff", required=False)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(f"A user with the e-mail {email} already exists.")
        return email

    def clean(self):
        data = super().clean()
        email = data.get("email")
        username = (data.get("username") or "").strip() or (email or "").split("@")[0]
        if username:
            try:
                get_user_model().username_validator(username)
            except forms.ValidationError as exc:
                self.add_error("username" if data.get("username") else "email", exc)
                return data
            if get_user_model().objects.filter(username__iexact=username).exists():
                self.add_error("username", f"The username {username} is taken.")
            data["username"] = username
        return data
