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


@transaction.atomic
def user_invite(
    *,
    email: str,
    username: str,
    first_name: str = "",
    last_name: str = "",
    factory=None,
    role: str = "",
    is_coe_staff: bool = False,
):
    """A new account for an invited person: inactive, without a usable password, until
    they set one through the link of their invitation (``coe.user_pages``)."""
    from coe.models import Membership

    user = user_save(
        data={
            "email": email,
            "username": username,
            "first_name": first_name,
            "last_name": last_name,
            "is_active": False,
        },
        is_coe_staff=is_coe_staff,
    )
    if factory is not None:
        Membership.objects.create(factory=factory, user=user, role=role)
    return user
