"""The unread count beside "Notifications" in the navigation (one bounded COUNT per page)."""

from notify.inbox import unread_badge


def unread_notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": unread_badge(user)}
