"""Who may see and change what: the one place every queryset in every app goes through.

Rules:
- CoE staff (members of the ``coe_staff`` group) and superusers see and change everything.
- Everyone else sees only the rows of the factories they hold a membership in, any role.
- Business owners of a factory may act as its owner (e.g. first approval of a request);
  what a role may *change* beyond that is decided by each app through ``factory_ids``.
- Anonymous users see nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db.models import Model, Q, QuerySet

from coe.choices import COE_STAFF_GROUP, Role
from coe.models import Factory, Membership

_STAFF_CACHE_ATTR = "_coe_is_staff"
_FACTORY_CACHE_ATTR = "_coe_factory_roles"


def is_coe_staff(user) -> bool:
    """True for CoE staff and superusers; the answer is cached on the user object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    cached = getattr(user, _STAFF_CACHE_ATTR, None)
    if cached is None:
        cached = user.is_superuser or user.groups.filter(name=COE_STAFF_GROUP).exists()
        setattr(user, _STAFF_CACHE_ATTR, cached)
    return cached


def coe_staff_condition(prefix: str = "") -> Q:
    """The ``Q`` matching CoE staff (``prefix``: the path to the user, e.g. ``"user__"``)."""
    return Q(**{f"{prefix}groups__name": COE_STAFF_GROUP}) | Q(**{f"{prefix}is_superuser": True})


def factory_roles(user) -> dict[int, str]:
    """``{factory_id: role}`` of the user's memberships, cached on the user object."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return {}
    cached = getattr(user, _FACTORY_CACHE_ATTR, None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("factory_id", "role"))
        setattr(user, _FACTORY_CACHE_ATTR, cached)
    return cached


def factory_ids(user, roles: Iterable[str] | None = None) -> set[int]:
    """Ids of the factories the user belongs to, optionally only in the given roles."""
    wanted = set(roles) if roles is not None else None
    return {fid for fid, role in factory_roles(user).items() if wanted is None or role in wanted}


def owned_factory_ids(user) -> set[int]:
    """Ids of the factories the user is a business owner of."""
    return factory_ids(user, [Role.BUSINESS_OWNER])


def visible_users(user) -> QuerySet:
    """The accounts the user may see: all for CoE staff, else their own."""
    from django.contrib.auth import get_user_model

    queryset = get_user_model().objects.all()
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    return queryset if is_coe_staff(user) else queryset.filter(pk=user.pk)


def mark_coe_staff(users: Iterable) -> None:
    """Cache ``is_coe_staff`` on each of ``users`` with one query for all of them."""
    from django.contrib.auth import get_user_model

    users = list(users)
    staff_ids = set(
        get_user_model()
        .objects.filter(pk__in=[u.pk for u in users], groups__name=COE_STAFF_GROUP)
        .values_list("pk", flat=True)
    )
    for user in users:
        setattr(user, _STAFF_CACHE_ATTR, user.is_superuser or user.pk in staff_ids)


def writable_factory_ids(user, roles: Iterable[str] | None = None) -> set[int] | None:
    """The factories an import by the user may write: ``None`` (any) for CoE staff, else
    the factories they hold one of ``roles`` in (any role by default)."""
    return None if is_coe_staff(user) else factory_ids(user, roles)


def visible_factories(user) -> QuerySet[Factory]:
    """The factories the user may see."""
    return restrict(Factory.objects.all(), user, factory_field="")


def restrict(queryset: QuerySet, user, *, factory_field: str = "factory") -> QuerySet:
    """Restrict ``queryset`` to the rows ``user`` may see.

    ``factory_field`` is the lookup path from the model to its factory (``"factory"``,
    ``"connector__factory"``); ``""`` means the model *is* the factory. Rows of models
    without a factory (the shared registry) are scoped by the caller, not here.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if is_coe_staff(user):
        return queryset
    lookup = f"{factory_field}__in" if factory_field else "pk__in"
    return queryset.filter(**{lookup: factory_ids(user)})


def restrict_any(queryset: QuerySet, user, *factory_fields: str) -> QuerySet:
    """Rows linked to a visible factory through any of ``factory_fields`` (or to none)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if is_coe_staff(user):
        return queryset
    ids = factory_ids(user)
    condition = Q()
    for field in factory_fields:
        condition |= Q(**{f"{field}__in": ids})
    return queryset.filter(condition).distinct()


def restrict_through(queryset: QuerySet, user, *factory_fields: str) -> QuerySet:
    """Rows linked to a visible factory through any of ``factory_fields`` (many-to-many
    paths included), each row once, without DISTINCT on the caller's query."""
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if is_coe_staff(user):
        return queryset
    ids = sorted(factory_ids(user))
    # One index-driven subquery per path, OR-ed: an OR across a join of the many-to-many
    # table would read that whole table (a fragmentation finding links ~1,000 factories).
    condition = Q()
    for field in factory_fields:
        linked = queryset.model.objects.filter(**{f"{field}__in": ids}).values("pk")
        condition |= Q(pk__in=linked)
    return queryset.filter(condition)


def can_see_factory(user, factory: Factory | int) -> bool:
    fid = factory.pk if isinstance(factory, Model) else factory
    return is_coe_staff(user) or fid in factory_ids(user)


def is_business_owner(user, factory: Factory | int) -> bool:
    fid = factory.pk if isinstance(factory, Model) else factory
    return fid in owned_factory_ids(user)
