"""Pages of the assessments app: the portfolio (it draws on every app), the audit list and
workspace, the factory scorecard and the printable report."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.backends.utils import csrf_input
from django.utils import timezone
from django.views.decorators.http import require_POST

from assessments import answers, charts, portfolio_reads, selectors, services
from assessments.choices import STAGE_NAMES, AssessmentStatus
from assessments.filtersets import AssessmentFilterSet
from assessments.models import EvidenceFile
from assessments.portfolio_rows import factory_rows
from coe import policy
from coe.scoping import restrict, visible_factories
from kpis import reads
from kpis.models import FactoryFigures
from kpis.portfolio_roi import SURVEY_BENCHMARK

PAGE_SIZE = 50


def _payback_by_unit(factories) -> dict[str, dict]:
    """:func:`kpis.selectors.payback_summary` per business unit, counted in SQL over the
    factories' KPI rollup figures (those with an investment and a ROI in their currency)."""
    rows = (
        FactoryFigures.objects.filter(factory__in=factories.values("pk"), roi_error="")
        .exclude(invested=0)
        .values_list("factory__business_unit")
        .annotate(
            n=Count("id"),
            within=Count("id", filter=Q(roi_within_6_months=True)),
            paid=Count("id", filter=Q(payback_date__isnull=False)),
        )
        .order_by()
    )
    return {
        unit: {
            "factories": n,
            "within_6_months": within,
            "paid_back": paid,
            "share": round(within / n, 4) if n else None,
        }
        for unit, n, within, paid in rows
    }


def _payback_total(by_unit: dict[str, dict]) -> dict:
    n = sum(s["factories"] for s in by_unit.values())
    within = sum(s["within_6_months"] for s in by_unit.values())
    return {
        "factories": n,
        "within_6_months": within,
        "paid_back": sum(s["paid_back"] for s in by_unit.values()),
        "share": round(within / n, 4) if n else None,
    }


@policy.page_rule()
def portfolio(request):
    """The portfolio at a glance: the factories the user may see, by business unit, a page
    at a time, with their current maturity stage, ROI and productivity; the stage
    distribution, heatmaps and payback shares over all of them (SQL over stored rows)."""
    visible = visible_factories(request.user)
    page = Paginator(
        visible.order_by("business_unit", "name", "pk").select_related("maturity"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    factories = list(page)
    # ROI and productivity columns: the factories' KPI rollups, two queries in all.
    rois = reads.rois_by_factory(factories)
    productivity = reads.latest_kpis_by_factory(factories)
    by_unit: dict[str, list] = {}
    for factory in factories:
        factory.latest_final = getattr(factory, "maturity", None)
        factory.roi = rois.get(factory.pk)
        factory.roi_missing_rate = factory.pk in rois and factory.roi is None
        factory.productivity = productivity.get(factory.pk, {})
        by_unit.setdefault(factory.business_unit, []).append(factory)
    by_unit = {unit: factory_rows(members) for unit, members in by_unit.items()}
    counts = list(visible.values("business_unit", "kind").annotate(count=Count("id")).order_by())
    payback_by_unit = _payback_by_unit(visible)
    units = sorted({c["business_unit"] for c in counts})
    charts_context = portfolio_reads.portfolio_charts(visible)
    return render(
        request,
        "assessments/portfolio.html",
        {
            "by_unit": by_unit,
            "page": page,
            "unit_count": len(units),
            "factory_count": sum(c["count"] for c in counts),
            "software_count": sum(c["count"] for c in counts if c["kind"] == "software"),
            "manufacturing_count": sum(c["count"] for c in counts if c["kind"] == "manufacturing"),
            "payback": _payback_total(payback_by_unit),
            "payback_by_unit": [
                (unit, payback_by_unit[unit]) for unit in units if unit in payback_by_unit
            ],
            "survey_benchmark": SURVEY_BENCHMARK,
            "kpi_month": next(iter(productivity.values()), {}).get("month"),
            "chart_units": charts.factories_by_unit(counts) if counts else "",
            **charts_context,
        },
    )


@policy.page_rule()
def assessment_list(request):
    """Audits the user may see, filterable; the audit schedule with overdue factories; CoE
    staff open a new audit here (a POST: the page's POST rule)."""
    if request.method == "POST":
        factory = get_object_or_404(
            visible_factories(request.user), slug=request.POST.get("factory")
        )
        try:
            assessment = services.assessment_create(factory=factory, assessor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("assessment-list")
        messages.success(request, f"Audit of {factory.name} opened.")
        return redirect(assessment)
    filterset = AssessmentFilterSet(
        request.GET, queryset=selectors.assessments_for(request.user), request=request
    )
    # The audit's result document is not shown: left unread. The maturity model's
    # definition (the whole criteria file) is read once per model version on the page,
    # not once per audit row.
    page = Paginator(filterset.qs.defer("result", "model__definition"), 50).get_page(
        request.GET.get("page")
    )
    versions = selectors.models_by_id({a.model_id for a in page})
    for assessment in page:
        assessment.model = versions[assessment.model_id]
        assessment.progress = selectors.progress(assessment, assessment.answered)
    # Bounded by the page size: the audits due page by page (SQL over the stored maturity
    # rows); a list to choose from while the portfolio is small, a slug to type beyond.
    today = timezone.localdate()
    visible = visible_factories(request.user)
    overdue = Paginator(portfolio_reads.audits_due(visible, today), 50).get_page(
        request.GET.get("due_page")
    )
    overdue.object_list = portfolio_reads.audit_rows(request.user, list(overdue), today)
    factories = list(visible.order_by("name", "pk")[:51])
    return render(
        request,
        "assessments/assessment_list.html",
        {
            "filterset": filterset,
            "page": page,
            "overdue": overdue,
            "choosable": factories if len(factories) <= 50 else [],
            "statuses": AssessmentStatus.choices,
            # One hidden CSRF field for the "Open audit" form of every row due.
            "csrf_input": csrf_input(request),
        },
    )


def _visible_assessment(request, pk: int, **_kwargs):
    return get_object_or_404(selectors.assessments_for(request.user), pk=pk)


def _rows_from_form(post, dimensions: list[dict]) -> tuple[list[dict], list[str]]:
    """Answer rows from the workspace form (criteria left at "—" are not sent)."""
    rows, keys = [], []
    for dim in dimensions:
        for crit in dim["criteria"]:
            key = crit["key"]
            choice = post.get(f"rating-{key}", "")
            if choice == "":
                continue
            rows.append(
                {
                    "criterion": key,
                    "rating": None if choice == "na" else int(choice),
                    "evidence": post.get(f"evidence-{key}", ""),
                    "links": post.get(f"links-{key}", ""),
                    "comment": post.get(f"comment-{key}", ""),
                }
            )
            keys.append(key)
    return rows, keys


def _form_values(crit: dict, posted) -> dict:
    """The workspace fields of one criterion: what was posted (on errors) or what is stored."""
    key, answer = crit["key"], crit["answer"]
    if posted is not None:
        return {
            "rating": posted.get(f"rating-{key}", ""),
            "evidence": posted.get(f"evidence-{key}", ""),
            "links": posted.get(f"links-{key}", ""),
            "comment": posted.get(f"comment-{key}", ""),
        }
    if answer is None:
        return {"rating": "", "evidence": "", "links": "", "comment": ""}
    return {
        "rating": "na" if answer.rating is None else str(answer.rating),
        "evidence": answer.evidence,
        "links": " ".join(answer.links),
        "comment": answer.comment,
    }


@policy.page_rule(obj=_visible_assessment)
def assessment_detail(request, pk: int, obj):
    """The audit workspace: every criterion with its stage descriptors, the signal's
    suggested rating, evidence and comment; CoE staff save, submit and finalise here (a
    POST: the page's POST rule)."""
    assessment = obj
    can_audit = policy.allowed(request.user, "assessments.change_assessment", assessment)
    editable = can_audit and assessment.status in (
        AssessmentStatus.DRAFT,
        AssessmentStatus.IN_PROGRESS,
    )
    row_errors: dict[str, dict] = {}
    dimensions = selectors.workspace(assessment)
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if editable:
                rows, keys = _rows_from_form(request.POST, dimensions)
                if rows:
                    answers.answers_save(assessment=assessment, rows=rows, user=request.user)
                for key in keys:
                    upload = request.FILES.get(f"file-{key}")
                    if upload:
                        answers.evidence_file_add(
                            assessment=assessment, criterion=key, upload=upload, user=request.user
                        )
            if action == "comment":
                added = 0
                for dim in dimensions:
                    for crit in dim["criteria"]:
                        body = request.POST.get(f"review-{crit['key']}", "").strip()
                        if body:
                            services.review_comment_add(
                                assessment=assessment,
                                criterion=crit["key"],
                                body=body,
                                user=request.user,
                            )
                            added += 1
                messages.success(request, f"{added} review comment(s) added.")
            elif action == "refresh":
                services.assessment_refresh_signals(assessment=assessment)
                messages.success(request, "Evidence signals measured again.")
            elif action == "submit":
                services.assessment_transition(
                    assessment=assessment, to=AssessmentStatus.IN_REVIEW, user=request.user
                )
                messages.success(request, "Submitted for review.")
            elif action == "reopen":
                services.assessment_transition(
                    assessment=assessment, to=AssessmentStatus.IN_PROGRESS, user=request.user
                )
            elif action == "finalize":
                result = services.assessment_finalize(assessment=assessment, user=request.user)
                messages.success(request, "Assessment finalised; the result is stored.")
                for warning in result.get("warnings", []):
                    messages.warning(request, warning)
                return redirect("assessment-report", pk=assessment.pk)
            else:
                messages.success(request, "Answers saved.")
            return redirect(assessment)
        except services.RowsInvalid as exc:
            row_errors = {r["criterion"]: e for r, e in zip(rows, exc.rows, strict=True) if e}
            messages.error(request, "Some answers need attention; nothing was saved.")
        except services.AssessmentLocked as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
    comments: dict[str, list] = {}
    for comment in assessment.review_comments.select_related("author"):
        comments.setdefault(comment.criterion, []).append(comment)
    for dim in dimensions:
        for crit in dim["criteria"]:
            crit["comments"] = comments.get(crit["key"], [])
            crit["errors"] = row_errors.get(crit["key"], {})
            crit["form"] = _form_values(crit, request.POST if row_errors else None)
    preview, preview_warnings, coverage = None, [], None
    if not assessment.is_final:
        preview = services.assessment_score(assessment)
        as_of = assessment.assessed_on or timezone.localdate()
        coverage = services.evidence_coverage(services.assessment_inputs(assessment, as_of))
        preview_warnings = services.evidence_warnings(coverage)
    return render(
        request,
        "assessments/assessment_detail.html",
        {
            "assessment": assessment,
            "dimensions": dimensions,
            "progress": selectors.progress(assessment),
            "editable": editable,
            "can_audit": can_audit,
            "preview": preview,
            "preview_warnings": preview_warnings,
            "coverage": coverage,
            "four_eyes_problem": None
            if assessment.is_final
            else services.four_eyes_problem(assessment, request.user),
            "rating_choices": [("na", "N/A — not applicable")]
            + [(str(s), f"{s} {name}") for s, name in STAGE_NAMES.items()],
        },
    )


@policy.page_rule(obj=_visible_assessment)
def assessment_report(request, pk: int, obj):
    """The printable report of a final assessment."""
    assessment = obj
    if not assessment.is_final:
        raise Http404("Only a final assessment has a report.")
    result = assessment.result
    definition = assessment.model.definition
    names = {c["key"]: c["name"] for d in definition["dimensions"] for c in d["criteria"]}
    dim_names = {d["key"]: d["name"] for d in result["dimensions"]}
    return render(
        request,
        "assessments/assessment_report.html",
        {
            "assessment": assessment,
            "result": result,
            "dimensions": selectors.workspace(assessment),
            # Labels, never keys: the roadmap names its criteria and dimensions.
            "roadmap": [
                {
                    **item,
                    "criterion_name": names.get(item["criterion"], item["criterion"]),
                    "dimension_name": dim_names.get(item["dimension"], item["dimension"]),
                }
                for item in result.get("roadmap") or []
            ],
        },
    )


@policy.page_rule(obj=policy.visible_factory)
def factory_scorecard(request, slug: str, obj):
    """A factory's scorecard: radar against the portfolio median, stage history, roadmap."""
    factory = obj
    history = selectors.final_history(factory)
    latest = history[-1] if history else None
    context = {
        "factory": factory,
        "latest": latest,
        "history": history,
        "trend": selectors.scorecard_trend(latest) if latest else None,
    }
    if latest is not None:
        result = latest.result
        medians = selectors.portfolio_median_dimensions(latest.model.key)
        names = {
            c["key"]: c["name"]
            for d in latest.model.definition["dimensions"]
            for c in d["criteria"]
        }
        dim_names = {d["key"]: d["name"] for d in result["dimensions"]}
        context.update(
            {
                "result": result,
                "roadmap": [
                    {
                        **item,
                        "criterion_name": names.get(item["criterion"], item["criterion"]),
                        "dimension_name": dim_names.get(item["dimension"], item["dimension"]),
                    }
                    for item in result["roadmap"]
                ],
                "medians": medians,
                "capped_by_name": dim_names.get(result["overall"]["capped_by"]),
                "chart_radar": charts.maturity_radar(result["dimensions"], medians),
                "chart_history": charts.stage_history(
                    [
                        {
                            "date": a.assessed_on.isoformat(),
                            "stage": a.stage,
                            "index": float(a.index),
                            "stage_name": a.stage_name,
                            "model_version": a.model.version,
                        }
                        for a in history
                    ]
                ),
                **selectors.audit_due_for(factory, latest),
            }
        )
    return render(request, "assessments/scorecard.html", context)


def _visible_evidence(request, pk: int, **_kwargs) -> EvidenceFile:
    return get_object_or_404(
        restrict(
            EvidenceFile.objects.select_related("answer__assessment"),
            request.user,
            factory_field="answer__assessment__factory",
        ),
        pk=pk,
    )


@policy.page_rule(obj=_visible_evidence)
def evidence_file(request, pk: int, obj):
    """Download an evidence file (only for who may see its assessment)."""
    stored = obj
    return FileResponse(stored.file.open("rb"), as_attachment=True, filename=stored.name)


@require_POST
@policy.page_rule(obj=_visible_assessment)
def assessment_correct(request, pk: int, obj):
    """Open a correction of a final assessment (a new assessment; the final one stays)."""
    original = obj
    try:
        correction = services.assessment_create(
            factory=original.factory, assessor=request.user, corrects=original
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect(original)
    messages.success(request, "Correction opened as a new assessment.")
    return redirect(correction)
