"""Writes of the core: users and memberships."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from coe.choices import COE_STAFF_GROUP

User = get_user_model()


def staff_group() -> Group:
    group, _ = Group.objects.get_or_create(name=COE_STAFF_GROUP)
    return group


def user_set_coe_staff(*, user, is_staff: bool) -> None:
    """Add the user to (or remove them from) the CoE staff group."""
    if is_staff:
        user.groups.add(staff_group())
    else:
        user.groups.remove(staff_group())
    for attr in ("_coe_is_staff",):
        if hasattr(user, attr):
            delattr(user, attr)


@transaction.atomic
def user_save(*, user=None, data: dict, password: str | None = None, is_coe_staff=None):
    """Create or update a user; the password is hashed, never stored as given."""
    user = user or User()
    for field, value in data.items():
        setattr(user, field, value)
    if password:
        user.set_password(password)
    elif user.pk is None:
        user.set_unusable_password()
    user.save()
    if is_coe_staff is not None:
        user_set_coe_staff(user=user, is_staff=is_coe_staff)
    return user
