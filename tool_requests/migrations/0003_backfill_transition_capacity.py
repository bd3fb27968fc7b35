# Data migration: the capacity of the steps recorded before it was stored, as the rules
# of the time gave it (the owner step by a business owner of the factory, else by CoE staff
# standing in; the CoE step and provisioning by CoE staff; the rest by the requester).

from django.db import migrations
from django.db.models import Exists, OuterRef


def backfill(apps, schema_editor):
    Transition = apps.get_model("tool_requests", "RequestTransition")
    Membership = apps.get_model("coe", "Membership")
    blank = Transition.objects.filter(capacity="")
    blank.filter(action__in=["create", "submit", "withdraw"]).update(capacity="requester")
    blank.filter(action="provision").update(capacity="coe_staff")
    decisions = blank.filter(action__in=["approve", "reject"])
    decisions.filter(from_status="owner_approved").update(capacity="coe_staff")
    owner_step = decisions.filter(from_status="submitted")
    is_owner = Membership.objects.filter(
        user_id=OuterRef("actor_id"),
        factory_id=OuterRef("request__factory_id"),
        role="business_owner",
    )
    owner_step.filter(Exists(is_owner)).update(capacity="business_owner")
    owner_step.filter(~Exists(is_owner)).update(capacity="coe_staff")


class Migration(migrations.Migration):

    dependencies = [
        ("coe", "0001_initial"),
        ("tool_requests", "0002_transition_capacity"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
