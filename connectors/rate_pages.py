"""CoE staff's currency rates: the conversions ROI uses for finance entries kept in
another currency than their factory's (``connectors.facts.CurrencyRate``)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from coe import listing, policy
from coe.staff_pages import delete_page, save_page
from coe.templatetags.coe_format import format_rate
from connectors.facts import CurrencyRate
from connectors.forms import CurrencyRateForm

RATE_SORTS = {"from": "from_currency", "to": "to_currency", "rate": "rate", "updated": "updated_at"}
RATE_COLUMNS = [
    ("From", "from"),
    ("To", "to"),
    ("Rate", "rate"),
    ("Updated", "updated"),
    ("Actions", None),
]


def _said(rate: CurrencyRate) -> str:
    return f"1 {rate.from_currency} = {format_rate(rate.rate)} {rate.to_currency}"


@policy.page_rule()
def rate_list(request):
    rows, current = listing.apply_sort(
        request, CurrencyRate.objects.all(), RATE_SORTS, default=("from_currency", "to_currency")
    )
    if listing.wants_export(request):
        return listing.export_csv(
            "currency-rates.csv",
            ["from_currency", "to_currency", "rate", "updated_at"],
            rows,
            lambda r: [r.from_currency, r.to_currency, r.rate, r.updated_at.isoformat()],
        )
    headers = listing.sort_headers(request, RATE_COLUMNS, current)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "connectors/rate_list.html",
        {"page": page, "headers": headers, "export_url": listing.export_url(request)},
    )


@policy.page_rule()
def rate_create(request):
    return save_page(
        request,
        CurrencyRateForm(request.POST or None),
        said=lambda rate: f"Added the rate {_said(rate)}.",
        done="currency-rate-list",
        title="New currency rate",
        submit="Add rate",
        cancel_url="/currency-rates/",
    )


@policy.page_rule()
def rate_edit(request, pk: int):
    obj = get_object_or_404(CurrencyRate, pk=pk)
    return save_page(
        request,
        CurrencyRateForm(request.POST or None, instance=obj),
        said=lambda rate: f"Saved the rate {_said(rate)}.",
        done="currency-rate-list",
        title=f"Edit {obj.from_currency} → {obj.to_currency}",
        submit="Save",
        cancel_url="/currency-rates/",
    )


@policy.page_rule()
def rate_delete(request, pk: int):
    obj = get_object_or_404(CurrencyRate, pk=pk)
    pair = f"{obj.from_currency} → {obj.to_currency}"
    return delete_page(
        request,
        obj,
        what=f"the rate {pair}",
        submit=f"Delete {pair}",
        consequence=(
            f"ROI of a factory in {obj.to_currency} with finance entries in "
            f"{obj.from_currency} becomes an error until a rate is added again."
        ),
        back="/currency-rates/",
        done="currency-rate-list",
    )
