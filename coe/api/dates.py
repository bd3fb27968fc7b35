"""API date fields that refuse years outside 1900–2100 (:mod:`coe.validation`).

``coe.apps.CoeConfig.ready`` maps every model ``DateField`` and ``DateTimeField`` of every
``ModelSerializer`` to these, so a new serializer gets the check without asking for it.
"""

from __future__ import annotations

from rest_framework import serializers

from coe.validation import in_range


class DateField(serializers.DateField):
    """DRF's date field; a year outside 1900–2100 is a 400."""

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        try:
            in_range(result)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="out_of_range") from None
        return result


class DateTimeField(serializers.DateTimeField):
    """DRF's date-time field; a year outside 1900–2100 is a 400."""

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        try:
            in_range(result)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="out_of_range") from None
        return result


def install() -> None:
    """Make these the fields ``ModelSerializer`` builds for model dates and date-times."""
    from django.db import models

    mapping = serializers.ModelSerializer.serializer_field_mapping
    mapping[models.DateField] = DateField
    mapping[models.DateTimeField] = DateTimeField
