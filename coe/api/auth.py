"""Sign-in endpoints of the API: tokens, lockouts (CoE staff) and the access to the docs."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from coe.signin import (
    attempts,
    locked_attempts,
    lockout_expires_at,
    lockout_lift,
    lockout_response,
    token_expires_at,
    token_issue,
    token_revoke,
)


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


LOCKED_OUT = OpenApiResponse(
    inline_serializer(
        "LockedOut",
        {
            "detail": serializers.CharField(),
            "code": serializers.CharField(),
            "retry_after_minutes": serializers.IntegerField(),
        },
    ),
    description="Too many failed attempts for this username from this address.",
)


class AuthTokenView(APIView):
    """``POST`` credentials for a token; ``DELETE`` revokes the caller's token."""

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def perform_authentication(self, request):
        # Signing in needs no authentication: a stale token or session must not stand in
        # the way (and a session's CSRF check does not apply to a credentials exchange).
        if request.method != "POST":
            super().perform_authentication(request)

    @extend_schema(
        request=CredentialsSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description="Wrong credentials"),
            429: LOCKED_OUT,
        },
        auth=[],
    )
    def post(self, request):
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        # The Django request goes to the backends: the lockout backend reads the client's
        # address from it and marks it when the pair is locked out.
        django_request = request._request
        user = authenticate(django_request, **credentials.validated_data)
        if getattr(django_request, "axes_locked_out", False):
            return lockout_response(django_request)
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with provided credentials."]}
            )
        # A successful sign-in: the failures of this username and address are forgotten.
        user_logged_in.send(sender=user.__class__, request=django_request, user=user)
        token = token_issue(user=user)
        return Response(
            TokenSerializer({"token": token.key, "expires_at": token_expires_at(token)}).data
        )

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- lockouts --------------------------------------------------------------------------------


class LockoutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(allow_null=True)
    ip_address = serializers.CharField(allow_null=True)
    failures = serializers.IntegerField(source="failures_since_start")
    last_attempt = serializers.DateTimeField(source="attempt_time")
    path = serializers.CharField(source="path_info")
    locked_until = serializers.SerializerMethodField()

    def get_locked_until(self, obj) -> str | None:
        expires = lockout_expires_at(obj)
        return serializers.DateTimeField().to_representation(expires) if expires else None


class LockoutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     mixins.DestroyModelMixin, viewsets.GenericViewSet):  # fmt: skip
    """Usernames and addresses locked out after repeated failed sign-ins (CoE staff).

    ``?all=1`` lists every failure record, locked or not; ``DELETE`` unlocks the pair.
    """

    serializer_class = LockoutSerializer
    filterset_class = None
    filter_backends: list = []

    def get_queryset(self):
        if self.request.query_params.get("all") in ("1", "true"):
            return attempts()
        return locked_attempts()

    def perform_destroy(self, instance):
        lockout_lift(attempt=instance, by=self.request.user)


# --- docs --------------------------------------------------------------------------------------


class DocsAccess(BasePermission):
    """The schema and the docs: signed-in users, or everyone with ``API_DOCS_PUBLIC``."""

    message = "Sign in to read the API schema (or set API_DOCS_PUBLIC=1)."

    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)


class SchemaView(SpectacularAPIView):
    permission_classes = [DocsAccess]


class DocsView(SpectacularSwaggerView):
    """Swagger UI; an anonymous browser is sent to the sign-in page first."""

    permission_classes = [DocsAccess]

    def permission_denied(self, request, message=None, code=None):
        if request.user is None or not request.user.is_authenticated:
            raise _RedirectToLogin()
        super().permission_denied(request, message, code)

    def handle_exception(self, exc):
        if isinstance(exc, _RedirectToLogin):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)


class _RedirectToLogin(Exception):
    pass
