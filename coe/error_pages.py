"""403, 404 and 500 pages inside the site's layout (navigation included).

Django's default 500 handler renders without the request's context (so without the
navigation); this one renders with it, and falls back to a bare page if the layout itself
is what fails.
"""

from __future__ import annotations

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def _error(request, template: str, status: int, message: str = ""):
    return render(request, template, {"message": message}, status=status)


def permission_denied(request, exception=None):
    return _error(request, "403.html", 403, str(exception or ""))


def page_not_found(request, exception=None):
    return _error(request, "404.html", 404)


def server_error(request):
    try:
        return _error(request, "500.html", 500)
    except Exception:  # the layout itself failed: a page without it
        return HttpResponseServerError(
            loader.render_to_string("500_bare.html"), content_type="text/html"
        )
