"""Token authentication with an expiry.

A token older than ``API_TOKEN_TTL_HOURS`` is refused with 401 and a message saying how
to get a new one; the change log reads the actor from the request once DRF has
authenticated it (``coe/changelog.py``), so nothing else is needed here.
"""

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from coe.signin import token_is_expired

EXPIRED_MESSAGE = "Token has expired; request a new one with POST /api/auth/token/."


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token):
            raise exceptions.AuthenticationFailed(EXPIRED_MESSAGE, code="token_expired")
        return user, token
