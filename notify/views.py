"""The notifications page: the inbox, mark read, and the preferences form."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from coe import policy
from notify import inbox
from notify.forms import PreferencesForm
from notify.models import Notification


@policy.page_rule()
def notification_list(request):
    """The signed-in user's notifications, newest first, and how they hear of each kind."""
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            inbox.preferences_set(request.user, form.cleaned_data)
            messages.success(request, "Notification preferences saved.")
            return redirect("notification-list")
    else:
        form = PreferencesForm(initial=inbox.preferences_of(request.user))
    queryset = (
        Notification.objects.filter(user=request.user)
        .select_related("event")
        .order_by("-created_at", "-id")
    )
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    return render(request, "notify/notifications.html", {"page": page, "form": form})


@require_POST
@policy.page_rule()
def notifications_mark_read(request):
    """Mark one notification (``id``) or all of them read."""
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()] or None
    marked = inbox.mark_read(request.user, ids)
    messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect("notification-list")
