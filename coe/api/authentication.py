"""Token authentication that also names the change log's actor.

The change-log middleware runs before DRF authenticates a token, so at that point the
request's user is still anonymous; once the token is accepted, the user becomes the actor
of every change the request makes.
"""

from auditlog.context import auditlog_value
from rest_framework.authentication import TokenAuthentication


class AuditedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            try:
                context = auditlog_value.get()
            except LookupError:  # outside the middleware (e.g. a management command)
                return result
            context["actor"] = result[0]
        return result
