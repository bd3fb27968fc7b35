"""Push ingestion: ``POST /api/ingest/{metrics,counters,finance,devices}/``.

The body is a JSON list of row objects, a CSV text (``text/csv``), an XLSX workbook, or a
multipart form with one ``file``. ``?factory=slug`` fills rows without a factory. Members
and business owners push for their own factories, CoE staff for any. The rows are
checked whole (one ``row N: column: problem`` line each; for a JSON list N is the
item's 1-based position) and land atomically through ``connectors.imports``.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from coe import tables
from coe.api.parsers import loads
from coe.scoping import visible_factories, writable_factory_ids
from connectors.imports import ImportRejected, facts_import

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACCEPTED = ("application/json", "text/csv", XLSX_TYPE, "multipart/form-data")


def max_bytes() -> int:
    """Largest accepted file or body (``TABLE_MAX_BYTES``, default 10 MB)."""
    return int(settings.TABLE_MAX_BYTES)


def max_rows() -> int:
    """Most rows accepted in one push (``TABLE_MAX_ROWS``, default 100,000)."""
    return int(settings.TABLE_MAX_ROWS)


class RawParser(BaseParser):
    """Hands the view the unread body stream (JSON, CSV or XLSX), which it reads bounded."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


class PayloadTooLarge(ParseError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class UnsupportedType(ParseError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE


def rows_of_request(request) -> list[tuple[int, dict]]:
    """The rows of a JSON list, CSV or XLSX body, or of a multipart ``file``.

    Bodies are read as they stream in and never past ``max_bytes()``; tables through the
    one reader, :func:`coe.tables.read_table`, with its row, cell and archive limits.
    """
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > max_bytes() + (64 * 1024 if content_type == "multipart/form-data" else 0):
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
        return _table(upload, upload.name)
    stream = request.stream
    if content_type == "application/json":
        body = stream.read(max_bytes() + 1) if stream is not None else b""
        if len(body) > max_bytes():
            raise PayloadTooLarge(f"the body is larger than {max_bytes()} bytes")
        try:
            data = loads(body or b"null")
        except ValueError as exc:
            raise ParseError(f"not JSON: {exc}") from exc
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ParseError("the body must be a JSON list of objects")
        if len(data) > max_rows():
            raise PayloadTooLarge(f"more than {max_rows()} rows")
        return [(n, {str(k).lower(): v for k, v in r.items()}) for n, r in enumerate(data, 1)]
    if stream is None:
        raise ImportRejected(["row 1: file: the file is empty"])
    return _table(stream, "body.xlsx" if content_type == XLSX_TYPE else "body.csv")


def _table(source, name: str) -> list[tuple[int, dict]]:
    try:
        return tables.read_table(source, name)
    except tables.TableTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except tables.TableError as exc:
        raise ImportRejected([f"row 1: file: {exc}"]) from exc


class IngestView(APIView):
    """Push rows of one kind (metrics, counters, finance or devices) for the user's factories."""

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
        # The route's rule (connectors.upload_data) let through members of some factory;
        # each row must be for one of theirs.
        allowed = writable_factory_ids(request.user)
        default = None
        if request.query_params.get("factory"):
            default = get_object_or_404(
                visible_factories(request.user), slug=request.query_params["factory"]
            )
        try:
            rows = rows_of_request(request)
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
