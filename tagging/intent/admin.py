"""Ops set each interest's half-life, thresholds and the content a high-intent task
suggests; scores and their contributions are read-only (the customer page explains
them)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from scrm.core.errors import DomainError

from . import services
from .models import Contribution, Interest, Score


class InterestForm(forms.ModelForm):
    class Meta:
        model = Interest
        fields = [
            "code",
            "name",
            "half_life_days",
            "high_threshold",
            "medium_threshold",
            "low_threshold",
            "suggestion",
            "order",
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            services.interest_validate(
                half_life_days=cleaned["half_life_days"],
                high=cleaned["high_threshold"],
                medium=cleaned["medium_threshold"],
                low=cleaned["low_threshold"],
                suggestion=cleaned.get("suggestion"),
            )
        except DomainError as exc:
            raise ValidationError(exc.message) from exc
        return cleaned


@admin.register(Interest)
class InterestAdmin(admin.ModelAdmin):
    form = InterestForm
    list_display = [
        "name",
        "code",
        "half_life_days",
        "high_threshold",
        "medium_threshold",
        "low_threshold",
        "suggestion",
        "order",
    ]
    list_editable: list[str] = []

    def save_model(self, request, obj, form, change):
        services.interest_save(interest=obj)


class _ReadOnly(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Score)
class ScoreAdmin(_ReadOnly):
    list_display = ["customer", "interest", "points", "as_of", "level", "level_expires_at"]
    list_filter = ["interest", "level"]
    list_select_related = ["customer", "interest"]
    raw_id_fields = ["customer"]


@admin.register(Contribution)
class ContributionAdmin(_ReadOnly):
    list_display = ["source_key", "customer", "interest", "points", "at", "created_at"]
    list_filter = ["interest"]
    list_select_related = ["customer", "interest"]
    raw_id_fields = ["customer"]
    search_fields = ["source_key"]
