from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from coe.api.history import HistoryMixin
from coe.api.serializers import FactorySerializer, MembershipSerializer, UserSerializer
from coe.choices import Role
from coe.filtersets import FactoryFilterSet, MembershipFilterSet, UserFilterSet
from coe.models import Membership
from coe.scoping import mark_coe_staff, restrict, visible_factories, visible_users


class FactoryViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Digital factories. Everyone sees the factories they belong to; CoE staff see and edit all."""

    serializer_class = FactorySerializer
    filterset_class = FactoryFilterSet
    lookup_field = "slug"
    ordering_fields = ["name", "slug", "business_unit", "kind", "created_at"]

    def get_queryset(self):
        owners = Membership.objects.filter(role=Role.BUSINESS_OWNER).select_related("user")
        return visible_factories(self.request.user).prefetch_related(
            Prefetch("memberships", queryset=owners, to_attr="owner_memberships")
        )


class MembershipViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Who holds which role in which factory. CoE staff manage them."""

    serializer_class = MembershipSerializer
    filterset_class = MembershipFilterSet
    ordering_fields = ["created_at", "role"]

    def get_queryset(self):
        return restrict(Membership.objects.select_related("user", "factory"), self.request.user)


class UserViewSet(HistoryMixin, viewsets.ModelViewSet):
    """People. CoE staff create and manage users; everyone else sees themselves."""

    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    ordering_fields = ["username", "date_joined"]

    def get_queryset(self):
        return (
            visible_users(self.request.user)
            .order_by("username")
            .prefetch_related(
                Prefetch("memberships", queryset=Membership.objects.select_related("factory")),
            )
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        mark_coe_staff(page)  # one query for the page, not one per row
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def perform_destroy(self, instance):
        # The change log names the caller as the actor of the deletion; a caller deleting
        # themselves would leave an entry pointing at no one (a 500 at commit).
        if instance.pk == self.request.user.pk:
            raise PermissionDenied("You cannot delete your own account.")
        super().perform_destroy(instance)

    @extend_schema(responses=UserSerializer)
    @action(detail=False, methods=["get"])
    def me(self, request):
        """The signed-in user, with their memberships and whether they are CoE staff."""
        return Response(self.get_serializer(self.get_queryset().get(pk=request.user.pk)).data)
