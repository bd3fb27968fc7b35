"""CoE staff's user pages: the list of accounts and the invitation by e-mail.

An invitation creates an inactive account without a usable password and mails a
set-password link made by Django's password-reset machinery (the default token generator:
the link stops working once a password is set, or after ``PASSWORD_RESET_TIMEOUT``).
Setting the password through it activates the account.
"""

from __future__ import annotations

import smtplib

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_POST

from coe import listing, policy, services
from coe.forms import InviteForm
from coe.scoping import coe_staff_condition
from coe.staff_pages import form_page

User = get_user_model()

USER_SORTS = {
    "username": "username",
    "name": ("last_name", "first_name"),
    "email": "email",
    "factories": "factories",
    "joined": "date_joined",
}
USER_COLUMNS = [
    ("Username", "username"),
    ("Name", "name"),
    ("E-mail", "email"),
    ("Factories", "factories"),
    ("Status", None),
    ("Joined", "joined"),
]


@policy.page_rule()
def user_list(request):
    """Every account, with its factories and whether it waits for its invitation."""
    users = User.objects.annotate(
        factories=Count("memberships", distinct=True),
        staff=Count("pk", filter=coe_staff_condition()),
    )
    query = request.GET.get("q", "").strip()
    if query:
        users = users.filter(
            Q(username__icontains=query)
            | Q(email__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
        )
    rows, current = listing.apply_sort(request, users, USER_SORTS, default=("username",))
    if listing.wants_export(request):
        return listing.export_csv(
            "users-shown.csv",
            ["username", "name", "email", "factories", "active", "coe_staff", "joined"],
            rows,
            lambda u: [
                u.username,
                u.get_full_name(),
                u.email,
                u.factories,
                u.is_active,
                bool(u.staff),
                u.date_joined.date().isoformat(),
            ],
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "coe/user_list.html",
        {
            "page": page,
            "query": query,
            "headers": listing.sort_headers(request, USER_COLUMNS, current),
            "export_url": listing.export_url(request),
        },
    )


def _send_invitation(request, user) -> None:
    link = request.build_absolute_uri(
        reverse(
            "invite-accept",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    )
    context = {"user": user, "link": link, "inviter": request.user}
    send_mail(
        subject="Your CoE account: set a password",
        message=render_to_string("registration/invitation_email.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def _mailed(request, user) -> bool:
    """Send the invitation; a mail server that refuses is said, not a server error."""
    try:
        _send_invitation(request, user)
    except (OSError, smtplib.SMTPException) as exc:
        messages.error(
            request,
            f"The account {user.username} exists but the invitation could not be mailed "
            f"({exc.__class__.__name__}); send it again from this list.",
        )
        return False
    return True


@policy.page_rule()
def user_invite(request):
    """Invite someone by e-mail (and optionally into a factory)."""
    form = InviteForm(request.POST or None, initial={"factory": request.GET.get("factory")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = services.user_invite(
            email=data["email"],
            username=data["username"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            factory=data["factory"],
            role=data["role"],
            is_coe_staff=data["coe_staff"],
        )
        if _mailed(request, user):
            messages.success(
                request, f"Invited {user.username}: a set-password link went to {user.email}."
            )
        return redirect("user-list")
    return form_page(
        request,
        form,
        title="Invite user",
        submit="Send invitation",
        cancel_url=reverse("user-list"),
        intro="They receive a link to set their password; the account is inactive until then.",
    )


@require_POST
@policy.page_rule()
def user_reinvite(request, pk: int):
    """Send the set-password link again to an account that has not used it yet."""
    obj = get_object_or_404(User, pk=pk)
    if obj.is_active:
        messages.error(request, f"{obj.username} has already set a password.")
    elif not obj.email:
        messages.error(request, f"{obj.username} has no e-mail address.")
    elif _mailed(request, obj):
        messages.success(request, f"Sent {obj.username}'s invitation again to {obj.email}.")
    return redirect("user-list")


class InviteAcceptView(auth_views.PasswordResetConfirmView):
    """The invitation's link: set a password, which activates the account."""

    template_name = "registration/invite_accept.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form):
        user = form.user
        user.is_active = True
        response = super().form_valid(form)  # saves the user, password and activation
        messages.success(self.request, f"Password set for {user.username}; you can sign in now.")
        return response
