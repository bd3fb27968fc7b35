"""The API's filter backend: django-filter's, with numbers no database column holds refused.

A query parameter such as ``?factory_id=1e30`` reaches a foreign-key lookup, which Django
does not range-check: SQLite raises ``OverflowError`` and PostgreSQL "integer out of
range", both a 500. Every numeric filter field is bounded to a signed 64-bit integer
here, so such a value is a 400 naming the parameter, like any other invalid filter.
"""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django_filters.rest_framework import DjangoFilterBackend

LARGEST = 2**63 - 1


class BoundedFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            for field in filterset.form.fields.values():
                if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
                    field.validators += [MinValueValidator(-LARGEST), MaxValueValidator(LARGEST)]
        return filterset
