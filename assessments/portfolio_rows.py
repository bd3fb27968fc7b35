"""The portfolio page's factory rows, rendered in Python.

A page holds up to 50 factories, each with nine cells, two links and half a dozen
formatted figures. Rendered by the template language that was some 25 variable lookups
and two or three URL reversals per row: at 1,000 factories (a full page) the page cost
two and a half times what it costs at 10. Here each row is one ``format_html`` call and
the links are filled into routes reversed once per page (:mod:`coe.reversing`); the HTML
is the same the template wrote.
"""

from __future__ import annotations

from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from coe.reversing import url_by_key
from coe.templatetags.coe_format import months, percent

_NOT_ASSESSED = mark_safe('<span class="muted">not assessed</span>')
_NO_RATE = mark_safe('<td colspan="3" class="muted">no conversion rate for a finance entry</td>')
_NO_INVESTMENT = mark_safe('<td colspan="3" class="muted">no investment recorded</td>')
_NOT_YET = mark_safe('<span class="muted">not yet</span>')
_YES = mark_safe('<span class="status status-ok">yes</span>')
_NO = mark_safe('<span class="status status-warn">no</span>')
_NO_OEE = mark_safe('<span class="muted">no OEE</span>')
_NO_DEPLOYMENTS = mark_safe('<span class="muted">no deployments</span>')


def _whole_percent(share) -> str:
    """A share as ``{% widthratio share 1 100 %}`` wrote it (rounded half to even)."""
    return str(round(float(share) * 100))


def _maturity(factory, scorecard_url) -> SafeString:
    final = factory.latest_final
    if not final:
        return _NOT_ASSESSED
    return format_html(
        '<a href="{}"><span class="stage stage-{}">{}</span></a> <span class="muted">{}</span>',
        scorecard_url(factory.slug),
        final.stage,
        final.stage_name,
        localize(final.index),
    )


def _roi(factory) -> SafeString:
    if factory.roi_missing_rate:
        return _NO_RATE
    roi = factory.roi
    if not (roi and roi.invested):
        return _NO_INVESTMENT
    payback = months(roi.payback_months) if roi.payback_months is not None else _NOT_YET
    return format_html(
        '<td class="roi">{}</td><td>{}</td><td>{}</td>',
        percent(roi.roi_pct, 1),
        payback,
        _YES if roi.roi_within_6_months else _NO,
    )


def _productivity(factory) -> SafeString | str:
    figures = factory.productivity
    if factory.kind == "manufacturing":
        oee = figures.get("oee")
        return _NO_OEE if oee is None else f"OEE {_whole_percent(oee)} %"
    band = figures.get("dora_band")
    return f"DORA {band}" if band else _NO_DEPLOYMENTS


def factory_rows(factories: list) -> list[SafeString]:
    """One ``<tr>`` per factory (its ``latest_final``, ``roi``, ``roi_missing_rate`` and
    ``productivity`` set by the view)."""
    factory_url = url_by_key("factory-detail", slug=True)
    scorecard_url = url_by_key("scorecard", slug=True)
    return [
        format_html(
            '<tr><td><a href="{}">{}</a></td><td><span class="kind kind-{}">{}</span></td>'
            "<td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            factory_url(f.slug),
            f.name,
            f.kind,
            f.get_kind_display(),
            f.site,
            f.region,
            _maturity(f, scorecard_url),
            _roi(f),
            _productivity(f),
        )
        for f in factories
    ]
