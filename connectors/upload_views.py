"""The upload page: a member picks a kind, a factory of theirs and a CSV/XLSX file."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from coe.scoping import factory_ids, is_coe_staff, visible_factories
from coe.tables import TableTooLarge
from connectors.api.ingest_views import max_bytes
from connectors.imports import FORMATS, ImportRejected, facts_import_file


@login_required
def upload(request):
    """Upload metrics, OT counters, finance entries or devices (all rows or none)."""
    staff = is_coe_staff(request.user)
    factories = visible_factories(request.user).order_by("name")
    if not staff:
        factories = factories.filter(pk__in=factory_ids(request.user))
    errors: list[str] = []
    status = 400
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
            status = 413
        elif not upload_file.name.lower().endswith((".csv", ".xlsx")):
            errors.append("file: must be .csv or .xlsx")
        if not errors:
            try:
                result = facts_import_file(
                    kind=kind,
                    data=upload_file,
                    name=upload_file.name,
                    default_factory=factory,
                    allowed_factory_ids=None if staff else {factory.pk},
                )
            except TableTooLarge as exc:
                errors, status = [f"file: {exc}"], 413
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
        status=status if errors else 200,
    )
