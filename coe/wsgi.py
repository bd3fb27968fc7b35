"""WSGI entry point (gunicorn coe.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")
application = get_wsgi_application()


def _freeze_startup_objects() -> None:
    """Every view imported now, then what start-up built (settings, URL patterns, views,
    the libraries they load: ~230,000 objects) moved out of the cyclic garbage collector's
    sight. They live as long as the worker, yet each collection a request triggers walked
    them again: measured 3.5 ms of CPU a request before, 1.4 ms after
    (benchmarks/bench_portfolio.py's pages)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module
    gc.freeze()


_freeze_startup_objects()
