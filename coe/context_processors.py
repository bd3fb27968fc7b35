from functools import partial

from django.urls import NoReverseMatch, reverse

from coe import pages, policy

# (label, URL name): an entry shows once its app has the page.
NAVIGATION = [
    ("Home", "home"),
    ("Portfolio", "portfolio"),
    ("Factories", "factory-list"),
    ("Registry", "tool-list"),
    ("Assessments", "assessment-list"),
    ("Connectors", "connector-list"),
    ("Devices", "device-list"),
    ("Uploads", "fact-upload"),
    ("Requests", "request-list"),
]


def navigation(request) -> dict:
    """The main navigation, with the current section marked."""
    items = []
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    for label, name in NAVIGATION:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        # Counted only when a page shows the navigation (the template calls it).
        count = partial(pages.nav_count, request, name) if signed_in else 0
        items.append({"label": label, "url": url, "active": active, "count": count})
    return {"nav_items": items, "user_is_coe_staff": bool(user and policy.is_coe_staff.test(user))}
