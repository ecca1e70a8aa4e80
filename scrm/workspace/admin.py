"""Admin for the task list: the task rules ops switch on, and every task."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from scrm.content.selectors import content_get_approved
from scrm.core.errors import DomainError

from .models import ManagerTask, TaskRule
from .selectors import tasks_visible_to


class TaskRuleForm(forms.ModelForm):
    class Meta:
        model = TaskRule
        fields = ("kind", "is_active", "days", "suggestion")

    def clean_suggestion(self):
        content = self.cleaned_data.get("suggestion")
        if content is not None:
            try:
                content_get_approved(content_id=content.pk)
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return content


@admin.register(TaskRule)
class TaskRuleAdmin(admin.ModelAdmin):
    form = TaskRuleForm
    list_display = ("kind", "is_active", "days", "suggestion")


@admin.register(ManagerTask)
class ManagerTaskAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "staff", "due_date", "status", "closed_at")
    list_filter = ("kind", "status", "due_date")
    search_fields = ("title", "staff__name", "staff__userid")
    raw_id_fields = ("staff", "customer", "group", "push", "suggestion")
    date_hierarchy = "due_date"

    def get_queryset(self, request):
        # The one access rule: ops see every task, a branch manager their branch's.
        return tasks_visible_to(request.user)
