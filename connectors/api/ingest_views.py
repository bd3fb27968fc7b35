"""Push ingestion: ``POST /api/ingest/{metrics,counters,finance,devices}/``.

The body is a JSON list of row objects, a CSV text (``text/csv``), an XLSX workbook, or a
multipart form with one ``file``. ``?factory=slug`` fills rows without a factory. Members
and business owners push for their own factories, CoE staff for any. The rows are
checked whole (one ``row N: column: problem`` line each; for a JSON list N is the
item's 1-based position) and land atomically through ``connectors.imports``.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from coe.scoping import factory_ids, is_coe_staff, visible_factories
from connectors import tables
from connectors.imports import ImportRejected, facts_import

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACCEPTED = ("application/json", "text/csv", XLSX_TYPE, "multipart/form-data")


def max_bytes() -> int:
    """Largest accepted body (``INGEST_MAX_BYTES``, default 10 MB)."""
    return int(settings.INGEST_MAX_BYTES)


def max_rows() -> int:
    """Most rows accepted in one push (``INGEST_MAX_ROWS``, default 100,000)."""
    return int(settings.INGEST_MAX_ROWS)


class RawParser(BaseParser):
    """Lets the view read the raw body itself (JSON, CSV or XLSX)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


class PayloadTooLarge(ParseError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class UnsupportedType(ParseError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE


def rows_of_request(request) -> tuple[list[tuple[int, dict]] | None, bytes, str]:
    """(rows, raw bytes, file name): rows for JSON, raw bytes for CSV/XLSX bodies and files."""
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > max_bytes():
        raise PayloadTooLarge(f"the body is larger than {max_bytes()} bytes")
    if content_type not in ACCEPTED:
        raise UnsupportedType(f"send one of: {', '.join(ACCEPTED)}")
    if content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise ParseError("multipart body without a 'file' field")
        if upload.size > max_bytes():
            raise PayloadTooLarge(f"the file is larger than {max_bytes()} bytes")
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise UnsupportedType("the file must be .csv or .xlsx")
        return None, upload.read(), upload.name
    body = request.body
    if len(body) > max_bytes():
        raise PayloadTooLarge(f"the body is larger than {max_bytes()} bytes")
    if content_type == "application/json":
        try:
            data = json.loads(body or b"null")
        except ValueError as exc:
            raise ParseError(f"not JSON: {exc}") from exc
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ParseError("the body must be a JSON list of objects")
        rows = [(n, {str(k).lower(): v for k, v in r.items()}) for n, r in enumerate(data, 1)]
        return rows, b"", ""
    return None, body, "body.xlsx" if content_type == XLSX_TYPE else "body.csv"


class IngestView(APIView):
    """Push rows of one kind (metrics, counters, finance or devices) for the user's factories."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, RawParser]
    kind: str = ""

    @extend_schema(
        parameters=[OpenApiParameter("factory", str, description="slug for rows without one")],
        request={
            "application/json": {"type": "array", "items": {"type": "object"}},
            "text/csv": {"type": "string"},
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        responses={
            200: inline_serializer(
                "IngestResult",
                {
                    "kind": serializers.CharField(),
                    "rows": serializers.IntegerField(),
                    "created": serializers.IntegerField(),
                    "updated": serializers.IntegerField(),
                    "unchanged": serializers.IntegerField(),
                    "factories": serializers.ListField(child=serializers.SlugField()),
                },
            ),
            400: inline_serializer(
                "IngestRejected",
                {
                    "detail": serializers.CharField(),
                    "errors": serializers.ListField(child=serializers.CharField(), required=False),
                },
            ),
            413: inline_serializer("IngestTooLarge", {"detail": serializers.CharField()}),
            415: inline_serializer("IngestWrongType", {"detail": serializers.CharField()}),
        },
    )
    def post(self, request, *args, **kwargs):
        allowed = None if is_coe_staff(request.user) else factory_ids(request.user)
        if allowed is not None and not allowed:
            raise PermissionDenied("You are not a member of any factory.")
        default = None
        if request.query_params.get("factory"):
            default = get_object_or_404(
                visible_factories(request.user), slug=request.query_params["factory"]
            )
        rows, data, name = rows_of_request(request)
        try:
            if rows is None:
                try:
                    rows = tables.read_table(data, name)
                except tables.TableError as exc:
                    raise ImportRejected([f"row 1: file: {exc}"]) from exc
            if len(rows) > max_rows():
                raise PayloadTooLarge(f"more than {max_rows()} rows")
            result = facts_import(
                kind=self.kind,
                rows=rows,
                default_factory=default,
                allowed_factory_ids=allowed,
                source="api",
            )
        except ImportRejected as exc:
            return Response(
                {"detail": str(exc), "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(result.as_dict())
