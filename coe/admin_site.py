"""The admin site of the project (its own module: the admin's default site is built from
it before any model is registered)."""

from django.contrib import admin

from coe import policy


class CoEAdminSite(admin.AdminSite):
    """The admin, under the same policy as the API and the pages: the site is for whom
    ``coe.use_admin`` lets in (CoE staff), and each model's add/change/delete/view is
    the rule of that name (CoE staff's where ``coe/policy.py`` names none)."""

    site_header = "CoE administration"

    def has_permission(self, request) -> bool:
        return policy.allowed(request.user, "coe.use_admin")

    def register(self, model_or_iterable, admin_class=None, **options):
        models = (
            model_or_iterable
            if isinstance(model_or_iterable, list | tuple)
            else [model_or_iterable]
        )
        for model in models:
            policy.admin_permissions_for(model._meta.app_label, model._meta.model_name)
        return super().register(model_or_iterable, admin_class, **options)
