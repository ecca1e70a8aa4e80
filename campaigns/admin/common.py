"""Shared pieces of the campaigns admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from scrm.core.errors import DomainError

from ..services.lifecycle import user_is_campaign_editor


def is_ops(user) -> bool:
    return bool(user.is_active and (user.is_superuser or user_is_campaign_editor(user)))


class OpsOnlyMixin:
    """Customers' claims and the like: ops only, not compliance (D14)."""

    def has_module_permission(self, request):
        return is_ops(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_ops(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return is_ops(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return is_ops(request.user) and super().has_change_permission(request, obj)


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NoDeleteMixin:
    def has_delete_permission(self, request, obj=None):
        return False


def form_error(form: forms.BaseForm, exc: DomainError) -> None:
    """A service's refusal shown beside the field it names, or above the form."""
    field = exc.data.get("field") if exc.data else None
    form.add_error(field if field in form.fields else None, exc.message)


class EditorForm(forms.ModelForm):
    """A model form whose ``clean`` refuses to save when the person may not edit.

    Set per request by the admin's ``get_form``."""

    user_may_edit = True
    locked_message = ""

    def clean(self):
        cleaned = super().clean()
        if not self.user_may_edit:
            raise forms.ValidationError(self.locked_message)
        return cleaned


register = admin.register
