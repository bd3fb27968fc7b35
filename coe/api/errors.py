"""JSON errors everywhere in the API: ``{"field": ["message"]}`` or ``{"detail": "message"}``."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus model validation errors (400) and protected deletes (409)."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, ProtectedError):
        names = sorted({str(obj) for obj in exc.protected_objects})[:10]
        return Response(
            {"detail": "This object is still in use and cannot be deleted.", "used_by": names},
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)


def api_not_found(request, *args, **kwargs):
    """JSON 404 for unknown URLs under /api/ (pages keep Django's HTML 404)."""
    return JsonResponse({"detail": "Not found."}, status=404)
