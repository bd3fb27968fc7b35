"""The core: factories and who belongs to them in which role."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from coe.choices import EventKind, FactoryKind, Role


class Factory(models.Model):
    """A digital factory the CoE supports: a software delivery team or a connected plant."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=FactoryKind.choices)
    business_unit = models.CharField(max_length=120, db_index=True)
    site = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=80, blank=True)
    description = models.TextField(blank=True)
    currency = models.CharField(
        max_length=3, default="EUR", help_text="ISO 4217 code the factory reports money in."
    )
    audit_cadence_months = models.PositiveSmallIntegerField(
        default=12, help_text="How often CoE staff audit this factory's maturity."
    )
    network_allowlist = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Hosts or CIDRs (optionally with :port) that this factory's connectors may reach, "
            "kept by CoE staff. Empty: the CONNECTOR_DEFAULT_ALLOWLIST applies."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "factories"
        # The default order of every list of factories, and of lists ordered by their
        # factory's name (adoptions): the first page is read from it, not sorted.
        indexes = [models.Index(fields=["name"], name="factory_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("factory-detail", kwargs={"slug": self.slug})


class Membership(models.Model):
    """A user's role in one factory (business owner or member)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    factory = models.ForeignKey(Factory, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    # Granted by the OpenID Provider's group claims: follows them at every sign-in.
    # Memberships made by hand in the product keep False and are never touched by sign-in.
    sso_managed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["factory__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "factory"], name="one_membership_per_factory")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.factory}"


class SSOIdentity(models.Model):
    """The OpenID Provider's subject (``iss`` + ``sub``) a user signs in as."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_sso_subject")
        ]

    def __str__(self) -> str:
        return f"{self.user} ← {self.subject} at {self.issuer}"


class Event(models.Model):
    """One row of the transactional outbox: written by ``coe.events.emit`` in the same
    transaction as the change it announces, delivered to subscribers after the commit.

    ``factory_ids`` are the factories the event concerns (none: portfolio-wide), which
    decide who hears about it; ``key`` de-duplicates events computed periodically
    (one ``waiver.expiring`` per waiver and expiry date, …)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(max_length=40, choices=EventKind.choices, db_index=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    factory_ids = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)
    dispatch_error = models.TextField(blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.event} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def payload(self) -> dict:
        """What webhooks receive: ``{id, event, occurred_at, data}``."""
        return {
            "id": str(self.id),
            "event": self.event,
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.data,
        }


class FactoryRowCount(models.Model):
    """How many rows of a large table belong to a factory, kept by database triggers in
    the same transaction as the rows themselves (:mod:`coe.rowcounts`): exact, never
    refreshed. An unfiltered API list reads its ``count`` here instead of counting every
    row of the portfolio."""

    table_name = models.CharField(max_length=63)
    factory = models.ForeignKey(Factory, on_delete=models.CASCADE, related_name="+")
    # A factory's count is the sum of its slots' rows: concurrent writers each change
    # their own (see coe.rowcounts).
    slot = models.SmallIntegerField(default=0, db_default=0)
    row_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["table_name", "factory", "slot"], name="rowcount_table_factory_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.table_name} of {self.factory_id} (slot {self.slot}): {self.row_count}"


class DataGeneration(models.Model):
    """A number that changes with every write to a group of tables, set by database
    triggers in the same statement and transaction as the write (:mod:`coe.generations`).
    Portfolio-wide aggregates are memoised under the generation they were read at, so a
    page reads them once per change instead of once per request."""

    name = models.CharField(max_length=40, primary_key=True)
    generation = models.BigIntegerField(
        null=True, help_text="None: not kept (the group's triggers are not installed)."
    )

    def __str__(self) -> str:
        return f"{self.name}: {self.generation}"
