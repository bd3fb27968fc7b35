"""The demo organisation's core: Northwind Industrial's factories and people (see DEMO.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from coe.choices import FactoryKind, Role
from coe.models import Factory, Membership
from coe.services import user_set_coe_staff

User = get_user_model()

AUTOMOTIVE = "Automotive Components"
ENERGY = "Energy Systems"
DIGITAL = "Digital Channels"

FACTORIES = [
    {
        "slug": "stuttgart-press",
        "name": "Stuttgart Press Shop",
        "kind": FactoryKind.MANUFACTURING,
        "business_unit": AUTOMOTIVE,
        "site": "Stuttgart",
        "region": "EMEA",
        "description": "Presses and robots on OPC UA; two historians and two CMMS tools.",
        "audit_cadence_months": 12,
    },
    {
        "slug": "puebla-assembly",
        "name": "Puebla Assembly",
        "kind": FactoryKind.MANUFACTURING,
        "business_unit": AUTOMOTIVE,
        "site": "Puebla",
        "region": "Americas",
        "description": "Young assembly plant, Sparkplug B over MQTT.",
        "audit_cadence_months": 6,
    },
    {
        "slug": "pilsen-machining",
        "name": "Pilsen Machining",
        "kind": FactoryKind.MANUFACTURING,
        "business_unit": AUTOMOTIVE,
        "site": "Pilsen",
        "region": "EMEA",
        "description": "CNC cells on Modbus and OPC UA; vision quality inspection pilot.",
        "audit_cadence_months": 6,
    },
    {
        "slug": "aarhus-turbines",
        "name": "Aarhus Turbines",
        "kind": FactoryKind.MANUFACTURING,
        "business_unit": ENERGY,
        "site": "Aarhus",
        "region": "EMEA",
        "description": "Predictive maintenance and a digital twin of the test bench.",
        "audit_cadence_months": 12,
    },
    {
        "slug": "grid-analytics",
        "name": "Grid Analytics",
        "kind": FactoryKind.SOFTWARE,
        "business_unit": ENERGY,
        "site": "Copenhagen",
        "region": "EMEA",
        "description": "Data platform team for grid operators.",
        "audit_cadence_months": 12,
    },
    {
        "slug": "customer-app",
        "name": "Customer App",
        "kind": FactoryKind.SOFTWARE,
        "business_unit": DIGITAL,
        "site": "Berlin",
        "region": "EMEA",
        "description": "Mobile and web app factory on the standard toolchain.",
        "audit_cadence_months": 12,
    },
    {
        "slug": "dealer-portal",
        "name": "Dealer Portal",
        "kind": FactoryKind.SOFTWARE,
        "business_unit": DIGITAL,
        "site": "Detroit",
        "region": "Americas",
        "description": "Legacy portal team with its own CI/CD tools and issue tracker.",
        "audit_cadence_months": 6,
    },
    {
        "slug": "platform-coe",
        "name": "Platform CoE",
        "kind": FactoryKind.SOFTWARE,
        "business_unit": DIGITAL,
        "site": "Berlin",
        "region": "EMEA",
        "description": "The CoE's own platform team; owns the reusable processes.",
        "audit_cadence_months": 12,
    },
]

AUTOMOTIVE_PLANTS = ["stuttgart-press", "puebla-assembly", "pilsen-machining"]

# (username, first name, last name, CoE staff?, [(factory slug, role)])
PEOPLE = [
    ("coe.lead", "Lena", "Hofmann", True, []),
    ("coe.auditor", "Arjun", "Mehta", True, []),
    (
        "owner.automotive",
        "Marta",
        "Kowalski",
        False,
        [(slug, Role.BUSINESS_OWNER) for slug in AUTOMOTIVE_PLANTS],
    ),
    (
        "owner.energy",
        "Erik",
        "Nielsen",
        False,
        [("aarhus-turbines", Role.BUSINESS_OWNER), ("grid-analytics", Role.BUSINESS_OWNER)],
    ),
    (
        "owner.digital",
        "Dana",
        "Okafor",
        False,
        [(s, Role.BUSINESS_OWNER) for s in ("customer-app", "dealer-portal", "platform-coe")],
    ),
    ("member.stuttgart", "Jonas", "Weber", False, [("stuttgart-press", Role.MEMBER)]),
    ("member.puebla", "Lucía", "Hernández", False, [("puebla-assembly", Role.MEMBER)]),
    ("member.customer-app", "Priya", "Shah", False, [("customer-app", Role.MEMBER)]),
    ("member.dealer-portal", "Tom", "Becker", False, [("dealer-portal", Role.MEMBER)]),
]


@transaction.atomic
def load_core() -> dict:
    """Create or refresh the demo factories, users and memberships (idempotent)."""
    factories = {}
    for spec in FACTORIES:
        data = dict(spec)
        slug = data.pop("slug")
        factory, _ = Factory.objects.update_or_create(slug=slug, defaults=data)
        factories[slug] = factory
    users = {}
    # Every demo login shares the published demo password: hash it once (a production
    # hasher costs about half a second a call) and check each distinct stored hash once.
    hashed: list[str] = []
    verified: dict[str, bool] = {}
    for username, first, last, staff, memberships in PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@northwind.example",
            },
        )
        if not created and user.password not in verified:
            verified[user.password] = user.check_password(settings.DEMO_PASSWORD)
        if created or not verified[user.password]:
            if not hashed:
                hashed.append(make_password(settings.DEMO_PASSWORD))
            user.password = hashed[0]
            user.save(update_fields=["password"])
        user_set_coe_staff(user=user, is_staff=staff)
        for slug, role in memberships:
            Membership.objects.update_or_create(
                user=user, factory=factories[slug], defaults={"role": role}
            )
        users[username] = user
    return {"factories": factories, "users": users}
