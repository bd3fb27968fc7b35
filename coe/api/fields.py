"""Related fields whose choices are the objects the requesting user may see.

A write naming an object outside the caller's scope gets the same 400 ("… does not
exist") as one naming an unknown object: the answer never tells which slugs exist.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

from coe.prefetch import prefetched
from coe.scoping import visible_factories, visible_users


@extend_schema_field(OpenApiTypes.STR)
class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """A ``SlugRelatedField`` over ``scope(user)`` for the request's user."""

    def __init__(self, scope: Callable[..., QuerySet], **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        return self.scope(getattr(request, "user", None))


@extend_schema_field(OpenApiTypes.INT)
class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A ``PrimaryKeyRelatedField`` over ``scope(user)`` for the request's user."""

    def __init__(self, scope: Callable[..., QuerySet], **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        return self.scope(getattr(request, "user", None))


class FactoryField(ScopedSlugRelatedField):
    """A factory, by slug, among those the requesting user may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "slug")
        super().__init__(visible_factories, **kwargs)


class UserField(ScopedSlugRelatedField):
    """A user, by username, among those the requesting user may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        super().__init__(visible_users, **kwargs)


class _Listed:
    """Reads the field's relation from the list ``coe.prefetch.listed`` left, when there is one."""

    def get_attribute(self, instance):
        got = prefetched(instance, self.source)
        return got if got is not None else super().get_attribute(instance)


class ListedManyRelatedField(_Listed, serializers.ManyRelatedField):
    pass


class ListedSlugRelatedField(serializers.SlugRelatedField):
    """``SlugRelatedField``; with ``many=True`` it reads a ``coe.prefetch.listed`` prefetch."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update({k: v for k, v in kwargs.items() if k in MANY_RELATION_KWARGS})
        return ListedManyRelatedField(**list_kwargs)


class ListedListSerializer(_Listed, serializers.ListSerializer):
    """A nested ``many=True`` serializer that reads a ``coe.prefetch.listed`` prefetch (set as the
    child serializer's ``Meta.list_serializer_class``)."""
