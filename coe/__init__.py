"""CoE: the Django project and the core (factories, memberships, roles, scoping)."""

from coe.celery import app as celery_app

__all__ = ["celery_app"]
