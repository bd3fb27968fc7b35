from django.urls import NoReverseMatch, reverse

from coe import policy

# (label, URL name): an entry shows once its app has the page.
NAVIGATION = [
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
    for label, name in NAVIGATION:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    user = getattr(request, "user", None)
    return {"nav_items": items, "user_is_coe_staff": bool(user and policy.is_coe_staff.test(user))}
