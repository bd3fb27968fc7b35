"""Request body limits per endpoint, enforced before a body is read or written to disk.

Every endpoint takes at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (small: JSON and
forms), except the ones ``REQUEST_BODY_LIMITS`` names by URL name (uploads get more, the
anonymous token endpoint less). A request whose ``Content-Length`` is over its limit is
answered 413 at once, before Django or DRF reads a byte of it; a multipart upload is
also counted chunk by chunk as it streams in (:class:`LimitedUploadHandler`, first of the
request's upload handlers), so it stops at the limit without a trusted length.

NUL bytes have no business in any input (PostgreSQL cannot store them in text): a query
string carrying one is refused with 400 here; JSON bodies are checked by
:mod:`coe.api.parsers`, uploaded tables by :mod:`coe.tables`, form fields by Django's
and DRF's character fields.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestTooLarge(Exception):
    """The request body is over its endpoint's limit (answered 413)."""

    def __init__(self, limit: int):
        super().__init__(f"The request body is larger than {limit} bytes.")
        self.limit = limit


def body_limit(request: HttpRequest) -> int:
    """The body limit of the endpoint ``request`` resolved to."""
    match = getattr(request, "resolver_match", None)
    name = match.view_name if match is not None else ""
    return int(settings.REQUEST_BODY_LIMITS.get(name, settings.DATA_UPLOAD_MAX_MEMORY_SIZE))


def content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class LimitedUploadHandler(FileUploadHandler):
    """Counts a multipart body's file bytes as they arrive and stops at the limit.

    It passes every chunk on to the next handler (memory or temporary file) unchanged, so
    nothing past the limit is ever written anywhere.
    """

    def __init__(self, limit: int, request=None):
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit:
            raise RequestTooLarge(self.limit)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise RequestTooLarge(self.limit)
        return raw_data

    def file_complete(self, file_size):
        return None


def too_large(request: HttpRequest, limit: int) -> HttpResponse:
    message = f"The request body is larger than {limit} bytes."
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


class RequestLimitsMiddleware:
    """413 for bodies over their endpoint's limit, 400 for NUL bytes in the query string.

    Sits before the CSRF middleware, whose ``process_view`` reads POST bodies.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in query or "%00" in query:
            return bad_request(request, "The query string contains a NUL character.")
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        limit = body_limit(request)
        if content_length(request) > limit:
            return too_large(request, limit)
        request.upload_handlers.insert(0, LimitedUploadHandler(limit, request))
        return None

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, RequestTooLarge):
            return too_large(request, exception.limit)
        return None
