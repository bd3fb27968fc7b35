"""The upload page: a member picks a kind, a factory of theirs and a CSV/XLSX file."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from coe import policy
from coe.scoping import visible_factories, writable_factory_ids
from connectors.api.ingest_views import max_bytes
from connectors.imports import FORMATS, ImportRejected, facts_import_file


@policy.page_rule()
def upload(request):
    """Upload metrics, OT counters, finance entries or devices (all rows or none)."""
    factories = visible_factories(request.user).order_by("name")
    # CoE staff's files may name any factory; anyone else's only the one chosen.
    any_factory = writable_factory_ids(request.user) is None
    errors: list[str] = []
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        factory = factories.filter(slug=request.POST.get("factory", "")).first()
        upload_file = request.FILES.get("file")
        if kind not in FORMATS:
            errors.append("kind: choose what the file holds")
        if factory is None:
            errors.append("factory: choose one of your factories")
        if upload_file is None:
            errors.append("file: choose a CSV or XLSX file")
        elif upload_file.size > max_bytes():
            errors.append(f"file: larger than {max_bytes()} bytes")
        elif not upload_file.name.lower().endswith((".csv", ".xlsx")):
            errors.append("file: must be .csv or .xlsx")
        if not errors:
            try:
                result = facts_import_file(
                    kind=kind,
                    data=upload_file.read(),
                    name=upload_file.name,
                    default_factory=factory,
                    allowed_factory_ids=None if any_factory else {factory.pk},
                )
            except ImportRejected as exc:
                errors = exc.errors
            else:
                messages.success(
                    request,
                    f"{upload_file.name}: {result.rows} row(s) — {result.created} created, "
                    f"{result.updated} updated, {result.unchanged} unchanged.",
                )
                return redirect("fact-upload")
    return render(
        request,
        "connectors/upload.html",
        {"factories": factories, "formats": FORMATS, "errors": errors[:200], "total": len(errors)},
        status=400 if errors else 200,
    )
