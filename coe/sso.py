"""Single sign-on with the company's OpenID Provider (OpenID Connect, authorization code
flow with PKCE, state and nonce), on top of mozilla-django-oidc.

Configured from the environment only (``coe/settings.py``): ``OIDC_ISSUER`` switches it on;
the provider's endpoints and signing keys come from its discovery document
(``<issuer>/.well-known/openid-configuration``), read once and kept for
``OIDC_DISCOVERY_TTL_SECONDS``. The client authenticates to the token endpoint with
``client_secret_basic``.

Who a user is and what they may do follows the provider at every sign-in:
- a user is matched by the provider's ``sub`` claim (``SSOIdentity``), created at the
  first sign-in, and keeps the provider's e-mail address;
- CoE staff = a group listed in ``OIDC_STAFF_GROUPS`` (the ``OIDC_GROUPS_CLAIM`` claim);
- factory roles from group values matching ``OIDC_FACTORY_ROLE_PATTERN``
  (default ``factory:<slug>:<role>``, role ∈ business_owner, member). Memberships the
  provider granted are marked ``sso_managed`` and removed when the claim goes away;
  memberships made by hand in the product are never touched.

ID tokens are checked for signature (the provider's JWKS), issuer, audience (our client
id), expiry and nonce; mozilla-django-oidc alone checks neither issuer nor audience.
"""

from __future__ import annotations

import logging
import re
import threading
import time

import httpx
import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import LoginView
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import transaction
from django.http import Http404
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from coe.choices import Role
from coe.models import Factory, Membership, SSOIdentity
from coe.services import user_set_coe_staff

logger = logging.getLogger(__name__)

# mozilla-django-oidc setting name → key of the provider's discovery document.
_DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
}
# mozilla-django-oidc setting name → this project's environment-derived setting.
_RENAMED = {"OIDC_RP_CLIENT_ID": "OIDC_CLIENT_ID", "OIDC_RP_CLIENT_SECRET": "OIDC_CLIENT_SECRET"}

_discovery_lock = threading.Lock()
_discovery_cache: dict[str, tuple[float, dict]] = {}


def sso_enabled() -> bool:
    """True when an OpenID Provider is configured (``OIDC_ISSUER``)."""
    return bool(getattr(settings, "OIDC_ISSUER", ""))


def discovery() -> dict:
    """The provider's discovery document, fetched once per ``OIDC_DISCOVERY_TTL_SECONDS``.

    The document must name the configured issuer exactly (OpenID Connect Discovery §4.3):
    a mismatch is a configuration error, not something to sign in through.
    """
    issuer = settings.OIDC_ISSUER.rstrip("/")
    if not issuer:
        raise ImproperlyConfigured("Single sign-on is off: OIDC_ISSUER is not set.")
    now = time.monotonic()
    with _discovery_lock:
        cached = _discovery_cache.get(issuer)
        if cached and now - cached[0] < settings.OIDC_DISCOVERY_TTL_SECONDS:
            return cached[1]
    url = f"{issuer}/.well-known/openid-configuration"
    response = httpx.get(url, timeout=settings.OIDC_TIMEOUT, follow_redirects=False)
    response.raise_for_status()
    document = response.json()
    if document.get("issuer", "").rstrip("/") != issuer:
        raise ImproperlyConfigured(
            f"The OpenID Provider at {url} names issuer {document.get('issuer')!r}, "
            f"not the configured OIDC_ISSUER {issuer!r}."
        )
    required = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [key for key in required if key not in document]
    if missing:
        raise ImproperlyConfigured(f"The OpenID Provider's discovery lacks {', '.join(missing)}.")
    with _discovery_lock:
        _discovery_cache[issuer] = (now, document)
    return document


def forget_discovery() -> None:
    """Drop the cached discovery document (a provider moved, or a test started a new one)."""
    with _discovery_lock:
        _discovery_cache.clear()


def oidc_setting(attr: str, *default):
    """mozilla-django-oidc's settings, with endpoints from discovery and our env names."""
    if attr in _DISCOVERED:
        value = discovery().get(_DISCOVERED[attr])
        if value is None and default:
            return default[0]
        if value is None:
            raise ImproperlyConfigured(
                f"The OpenID Provider's discovery lacks {_DISCOVERED[attr]}."
            )
        return value
    if attr in _RENAMED:
        return getattr(settings, _RENAMED[attr])
    return import_from_settings(attr, *default)


def _group_values(claims: dict) -> list[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(item) for item in value]


def roles_from_groups(groups: list[str]) -> dict[str, str]:
    """``{factory slug: role}`` from group values; business owner wins over member."""
    pattern = re.compile(settings.OIDC_FACTORY_ROLE_PATTERN)
    wanted: dict[str, str] = {}
    for group in groups:
        match = pattern.fullmatch(group)
        if not match:
            continue
        slug, role = match.group("slug"), match.group("role")
        if role not in Role.values:
            continue
        if wanted.get(slug) != Role.BUSINESS_OWNER:
            wanted[slug] = role
    return wanted


@transaction.atomic
def apply_claims(user, claims: dict) -> None:
    """Make the user's staff flag, e-mail and provider-granted memberships follow ``claims``."""
    groups = _group_values(claims)
    email = claims.get("email") or ""
    if email and user.email != email:
        user.email = email
        user.save(update_fields=["email"])
    if not user.is_superuser:
        staff_groups = set(settings.OIDC_STAFF_GROUPS)
        user_set_coe_staff(user=user, is_staff=bool(staff_groups.intersection(groups)))

    wanted = roles_from_groups(groups)
    factories = {f.slug: f for f in Factory.objects.filter(slug__in=wanted)}
    unknown = sorted(set(wanted) - set(factories))
    if unknown:
        logger.warning("sso: %s names unknown factories %s", user.username, ", ".join(unknown))
    current = {m.factory_id: m for m in Membership.objects.filter(user=user)}
    keep: set[int] = set()
    for slug, factory in factories.items():
        membership = current.get(factory.pk)
        keep.add(factory.pk)
        if membership is None:
            Membership.objects.create(
                user=user, factory=factory, role=wanted[slug], sso_managed=True
            )
        elif membership.sso_managed and membership.role != wanted[slug]:
            membership.role = wanted[slug]
            membership.save(update_fields=["role"])
    for factory_id, membership in current.items():
        if membership.sso_managed and factory_id not in keep:
            membership.delete()
    for attr in ("_coe_factory_roles", "_coe_is_staff"):
        if hasattr(user, attr):
            delattr(user, attr)


def _unique_username(claims: dict) -> str:
    base = (
        claims.get("preferred_username")
        or (claims.get("email") or "").split("@")[0]
        or f"sso-{claims['sub']}"
    )
    base = re.sub(r"[^\w.@+-]", "-", str(base))[:140] or "sso-user"
    User = get_user_model()
    username, n = base, 1
    while User.objects.filter(username=username).exists():
        n += 1
        username = f"{base}-{n}"
    return username


class SignInOnly:
    """A sign-in backend that answers no permission question: every ``has_perm`` is the
    policy's (``coe.policy`` through the rules backend) and Django's permission tables
    hold nothing. Left to ``ModelBackend``, each page with a ``{% has_perm %}`` read the
    user's and their groups' permission rows (two queries a request) to find none."""

    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        return set()

    def get_all_permissions(self, user_obj, obj=None):
        return set()

    def has_perm(self, user_obj, perm, obj=None):
        return False

    def has_module_perms(self, user_obj, app_label):
        return False


class SSOBackend(SignInOnly, OIDCAuthenticationBackend):
    """Signs users in from the provider's ID token and userinfo; matches them by ``sub``."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # Endpoints come from discovery, so they are read when a sign-in happens, not at
        # import: the backend is listed even when single sign-on is off.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if not sso_enabled() or request is None:
            return None
        if not (request.GET.get("code") and request.GET.get("state")):
            return None  # a password sign-in: never wait on the provider for it
        self.OIDC_OP_TOKEN_ENDPOINT = oidc_setting("OIDC_OP_TOKEN_ENDPOINT")
        self.OIDC_OP_USER_ENDPOINT = oidc_setting("OIDC_OP_USER_ENDPOINT")
        self.OIDC_OP_JWKS_ENDPOINT = oidc_setting("OIDC_OP_JWKS_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, **kwargs)

    def prepare_verification(self) -> None:
        """Read the endpoints a token check needs (also used by tests calling verify_token)."""
        self.OIDC_OP_JWKS_ENDPOINT = oidc_setting("OIDC_OP_JWKS_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def _verify_jws(self, payload, key):
        """Signature, issuer, audience and expiry of an ID token (or a JWT userinfo)."""
        alg = jwt.get_unverified_header(payload).get("alg")
        if alg != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(
                f"The provider signed with {alg!r}, not the expected {self.OIDC_RP_SIGN_ALGO!r}."
            )
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[alg],
                audience=settings.OIDC_CLIENT_ID,
                issuer=discovery()["issuer"],
                leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise SuspiciousOperation("The ID token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise SuspiciousOperation("The ID token was issued for another client.") from exc
        except jwt.InvalidIssuerError as exc:
            raise SuspiciousOperation("The ID token was issued by another provider.") from exc
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"The ID token is not valid: {exc}.") from exc

    def get_userinfo(self, access_token, id_token, payload):
        """Userinfo merged over the ID token's claims; its ``sub`` must be the token's."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            info = super().get_userinfo(access_token, id_token, payload)
            if info.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("userinfo names another subject than the ID token.")
            claims.update(info)
        return claims

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def describe_user_by_claims(self, claims):
        return f"subject {claims.get('sub')}"

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            sso_identity__issuer=discovery()["issuer"], sso_identity__subject=claims["sub"]
        )

    def create_user(self, claims):
        user = self.UserModel.objects.create_user(
            _unique_username(claims), email=claims.get("email") or ""
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        SSOIdentity.objects.create(user=user, issuer=discovery()["issuer"], subject=claims["sub"])
        apply_claims(user, claims)
        logger.info("sso: created %s for subject %s", user.username, claims["sub"])
        return user

    def update_user(self, user, claims):
        apply_claims(user, claims)
        return user

    def get_user(self, user_id):
        return ModelBackend.get_user(self, user_id)


class SSORequestView(OIDCAuthenticationRequestView):
    """Starts a sign-in: redirects to the provider with state, nonce and a PKCE challenge."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID

    def get(self, request):
        if not sso_enabled():
            raise Http404("Single sign-on is not configured.")
        self.OIDC_OP_AUTH_ENDPOINT = oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        return super().get(request)


class SSOCallbackView(OIDCAuthenticationCallbackView):
    """The redirect URI (``/oidc/callback/``): checks state, then signs the user in.

    A token the checks refuse (another audience, expired, bad signature), a provider that
    refuses the code, or a state that does not match ends on the login page with a message,
    never in a server error.
    """

    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        try:
            return super().get(request)
        except (SuspiciousOperation, httpx.HTTPError, requests.RequestException) as exc:
            logger.warning("sso: sign-in refused: %s", exc)
            return self.login_failure()


class PasswordBackend(SignInOnly, ModelBackend):
    """Username and password; only superusers when ``PASSWORD_LOGIN`` is off."""

    def user_can_authenticate(self, user):
        if not settings.PASSWORD_LOGIN and not user.is_superuser:
            return False
        return super().user_can_authenticate(user)


class SignInView(LoginView):
    """The login page: "Sign in with single sign-on" when a provider is configured, and
    the password form while ``PASSWORD_LOGIN`` is on (folded away for administrators
    otherwise)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = sso_enabled()
        context["password_login"] = settings.PASSWORD_LOGIN
        return context
