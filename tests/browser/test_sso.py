"""Single sign-on end to end against a real OpenID Provider (node-oidc-provider, run here).

Chromium signs in through the provider's own login and consent pages; the product
exchanges the code (client_secret_basic, PKCE), checks the ID token against the
provider's published keys, and makes staff and factory roles follow the groups claim.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation

from coe.choices import Role
from coe.models import Membership
from coe.scoping import is_coe_staff
from coe.sso import SSOBackend, forget_discovery
from tests.factories import FactoryFactory, MembershipFactory

pytestmark = pytest.mark.browser

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "sso" / "provider"
CLIENT_ID = "coe-portal"
CLIENT_SECRET = "a-client-secret-only-the-tests-know"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Provider:
    """A running node-oidc-provider with one client and a file of accounts' groups."""

    def __init__(self, tmp_path: Path, redirect_uri: str):
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key))
        jwk.update({"kid": "test-signing-key", "alg": "RS256", "use": "sig"})
        self.accounts_file = tmp_path / "accounts.json"
        self.set_groups({})
        env = {
            **os.environ,
            "ISSUER": self.issuer,
            "PORT": str(self.port),
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "REDIRECT_URI": redirect_uri,
            "JWKS": json.dumps({"keys": [jwk]}),
            "ACCOUNTS_FILE": str(self.accounts_file),
        }
        self.process = subprocess.Popen(
            ["node", "server.mjs"],
            cwd=PROVIDER_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        said = []
        for line in self.process.stdout:  # warnings may come first; ends at exit
            said.append(line)
            if line.strip() == "listening":
                break
        else:
            self.process.kill()
            raise RuntimeError(f"the OpenID Provider did not start: {''.join(said)}")
        # Keep reading what it prints, so a full pipe never blocks the provider.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def set_groups(self, accounts: dict[str, list[str]]) -> None:
        self.accounts_file.write_text(json.dumps(accounts))

    def sign(self, **claims) -> str:
        """An ID token signed with the provider's own key (for the refusal tests)."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "carol",
            "iat": now,
            "exp": now + 300,
            "nonce": "n-1",
            **claims,
        }
        return jwt.encode(
            payload, self.private_key, algorithm="RS256", headers={"kid": "test-signing-key"}
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def provider(live_server, settings, tmp_path):
    if not shutil.which("node") or not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        reason = (
            "the single sign-on tests need Node.js and `npm ci` in tests/sso/provider "
            "(.ci/run does both)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    running = Provider(tmp_path, f"{live_server.url}/oidc/callback/")
    settings.OIDC_ISSUER = running.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    forget_discovery()
    yield running
    running.stop()
    forget_discovery()


def _sign_in(page, live_server, login: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    # The provider's own pages: its development login form, then consent.
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password: the provider's dev login checks none")
    page.click("button[type=submit]")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/**")
    page.wait_for_load_state("networkidle")


@pytest.mark.django_db(transaction=True)
def test_single_sign_on_creates_the_user_and_roles_follow_the_groups_claim(
    provider, page, live_server
):
    plant = FactoryFactory(slug="alpha-plant", name="Alpha Plant")
    app = FactoryFactory(slug="beta-app", name="Beta App")
    kept = FactoryFactory(slug="gamma-mill", name="Gamma Mill")
    provider.set_groups(
        {
            "bob": [
                "factory:alpha-plant:business_owner",
                "factory:beta-app:member",
                "factory:no-such-plant:member",
                "engineering",
            ]
        }
    )

    _sign_in(page, live_server, "bob")

    assert "/login/" not in page.url
    bob = get_user_model().objects.get(sso_identity__subject="bob")
    assert bob.email == "bob@northwind.example"
    assert not bob.has_usable_password()
    assert not is_coe_staff(bob)
    roles = dict(Membership.objects.filter(user=bob).values_list("factory__slug", "role"))
    assert roles == {"alpha-plant": Role.BUSINESS_OWNER, "beta-app": Role.MEMBER}

    # A membership made by hand in the product stays; the provider's follow the claim.
    MembershipFactory(user=bob, factory=kept, role=Role.MEMBER)
    provider.set_groups({"bob": ["factory:beta-app:business_owner", "coe_staff"]})
    page.context.clear_cookies()
    _sign_in(page, live_server, "bob")

    bob = get_user_model().objects.get(pk=bob.pk)
    assert get_user_model().objects.filter(sso_identity__subject="bob").count() == 1
    roles = dict(Membership.objects.filter(user=bob).values_list("factory__slug", "role"))
    assert roles == {"beta-app": Role.BUSINESS_OWNER, "gamma-mill": Role.MEMBER}
    assert is_coe_staff(bob)
    assert not Membership.objects.filter(user=bob, factory=plant).exists()
    assert Membership.objects.get(user=bob, factory=app).sso_managed


@pytest.mark.django_db(transaction=True)
def test_tokens_for_another_client_expired_or_from_another_issuer_are_refused(provider):
    backend = SSOBackend()
    backend.prepare_verification()

    accepted = backend.verify_token(provider.sign(), nonce="n-1")
    assert accepted["sub"] == "carol"

    refusals = {
        "another client": provider.sign(aud="someone-elses-app"),
        "expired": provider.sign(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "another issuer": provider.sign(iss="http://127.0.0.1:1/"),
    }
    for why, token in refusals.items():
        with pytest.raises(SuspiciousOperation):
            backend.verify_token(token, nonce="n-1")
            pytest.fail(f"a token from {why} was accepted")
    with pytest.raises(SuspiciousOperation, match="Nonce"):
        backend.verify_token(provider.sign(nonce="replayed"), nonce="n-1")


@pytest.mark.django_db(transaction=True)
def test_a_callback_with_a_forged_state_ends_on_the_login_page_signed_out(
    provider, page, live_server
):
    page.goto(f"{live_server.url}/oidc/callback/?code=stolen-code&state=forged-state")
    page.wait_for_load_state("networkidle")
    assert "/login/" in page.url
    assert page.get_by_role("alert").inner_text().startswith("Single sign-on did not complete")
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
