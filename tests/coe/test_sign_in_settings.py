"""Sign-in settings that need no identity provider: PASSWORD_LOGIN and the login page."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from coe.choices import Role
from coe.models import Membership
from coe.sso import apply_claims, roles_from_groups
from tests.factories import FactoryFactory, MembershipFactory, UserFactory

PASSWORD = "correct horse battery staple"


def _token_status(username: str) -> int:
    return (
        APIClient()
        .post("/api/auth/token/", {"username": username, "password": PASSWORD}, format="json")
        .status_code
    )


@pytest.mark.django_db
def test_password_login_off_leaves_only_superusers_signing_in_with_a_password(settings, client):
    member = UserFactory(username="plain.member")
    member.set_password(PASSWORD)
    member.save()
    admin = UserFactory(username="site.admin", is_superuser=True, is_staff=True)
    admin.set_password(PASSWORD)
    admin.save()

    assert _token_status("plain.member") == 200
    settings.PASSWORD_LOGIN = False
    assert _token_status("plain.member") == 400
    assert _token_status("site.admin") == 200
    page = client.post("/login/", {"username": "plain.member", "password": PASSWORD})
    assert page.status_code == 200 and "did not match" in page.content.decode()
    page = client.post("/login/", {"username": "site.admin", "password": PASSWORD})
    assert page.status_code == 302


@pytest.mark.django_db
def test_login_page_offers_single_sign_on_only_when_a_provider_is_configured(settings, client):
    settings.OIDC_ISSUER = ""
    body = client.get("/login/").content.decode()
    assert "Sign in with single sign-on" not in body
    assert client.get("/oidc/authenticate/").status_code == 404

    settings.OIDC_ISSUER = "https://login.northwind.example"
    settings.PASSWORD_LOGIN = False
    body = client.get("/login/").content.decode()
    assert "Sign in with single sign-on" in body
    assert "Administrator sign-in" in body


def test_factory_roles_come_from_group_values_and_owner_wins_over_member(settings):
    groups = [
        "factory:stuttgart-press:member",
        "factory:stuttgart-press:business_owner",
        "factory:aarhus-turbines:member",
        "factory:aarhus-turbines:admin",
        "coe_staff",
        "factory:bad slug:member",
    ]
    assert roles_from_groups(groups) == {
        "stuttgart-press": Role.BUSINESS_OWNER,
        "aarhus-turbines": Role.MEMBER,
    }
    settings.OIDC_FACTORY_ROLE_PATTERN = r"coe-(?P<slug>[a-z-]+)-(?P<role>member|business_owner)"
    assert roles_from_groups(["coe-puebla-assembly-member"]) == {"puebla-assembly": Role.MEMBER}


@pytest.mark.django_db
def test_claims_never_remove_memberships_made_by_hand(settings):
    user = UserFactory(username="dana")
    by_hand = MembershipFactory(user=user, factory=FactoryFactory(slug="hand-made"))
    FactoryFactory(slug="granted")
    apply_claims(user, {"sub": "dana", "groups": ["factory:granted:member"]})
    apply_claims(user, {"sub": "dana", "groups": []})
    assert list(Membership.objects.filter(user=user)) == [by_hand]
