"""The admin site: Django's, except that bad input answers 400, as everywhere else here.

A form sent back with errors (an add or change form, an inline, the log-in
or password form, an editable list) keeps Django's page, with the errors
shown where they belong, but answers 400 instead of 200, so an author's
script or an integration test sees the refusal without reading the page.

Django's changelist filters on the posted `_selected_action` values without
checking them (`ModelAdmin.response_action`), so an id that is not an id
("abc") reaches the database as a lookup and fails there. Here each posted
value is first converted by the model's primary key field; one that does
not convert, or is an integer beyond the column's range, is refused with
the site's 400 page, which names it.
"""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import connections, router

from config.errors import error_response


def _selection_error(model_admin: admin.ModelAdmin, request) -> str | None:
    """What is wrong with the posted action selection, or None if every value is an id."""
    if request.method != "POST" or "action" not in request.POST:
        return None
    pk = model_admin.model._meta.pk
    db = router.db_for_read(model_admin.model)
    ops = connections[db].ops
    low, high = ops.integer_field_ranges.get(pk.get_internal_type(), (None, None))
    for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
        try:
            converted = pk.to_python(value)
            if isinstance(converted, int) and not (
                (low is None or converted >= low) and (high is None or converted <= high)
            ):
                raise ValidationError("out of range")  # SQLite cannot even bind it
        except ValidationError:
            shown = value if len(value) <= 40 else value[:40] + "…"
            return (
                f"The selection must be ids of {model_admin.model._meta.verbose_name_plural}: "
                f"{shown!r} is not one. Reload the list and select again."
            )
    return None


def _shows_form_errors(response) -> bool:
    """Whether an admin page is a form sent back with errors (read from its context, before rendering)."""
    context = getattr(response, "context_data", None) or {}
    if context.get("errors"):  # add and change forms with their inlines (AdminErrorList)
        return True
    form = context.get("form")
    if getattr(form, "is_bound", False) and form.errors:  # log-in, password and action forms
        return True
    formset = getattr(context.get("cl"), "formset", None)  # an editable list
    return bool(formset is not None and formset.is_bound and (any(formset.errors) or formset.non_form_errors()))


def _refused_is_400(request, response):
    if request.method == "POST" and response.status_code == 200 and _shows_form_errors(response):
        response.status_code = 400
    return response


class AdminSite(admin.AdminSite):
    def admin_view(self, view, cacheable=False):
        model_admin = getattr(view, "__self__", None)
        checks_selection = isinstance(model_admin, admin.ModelAdmin)

        @functools.wraps(view)
        def checked(request, *args, **kwargs):
            if checks_selection and (reason := _selection_error(model_admin, request)):
                return error_response(request, 400, "bad_request", reason)
            return _refused_is_400(request, view(request, *args, **kwargs))

        # Wrapped inside Django's checks: the log-in and CSRF checks still come first.
        return super().admin_view(checked, cacheable)

    def login(self, request, extra_context=None):
        return _refused_is_400(request, super().login(request, extra_context))
