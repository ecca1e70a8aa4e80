"""Ops build surveys here: the survey with its questions inline, each question's page
with its options inline (tags, interest, points); the results page and the audited
export of the answers."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from contacts.crypto import mask_name
from scrm.core.errors import DomainError
from tagging.intent.models import Interest

from .masking import REVEAL_PERMISSION
from .models import Option, Question, Survey
from .selectors import survey_results
from .services import (
    EXPORT_PERMISSION,
    answers_reveal_record,
    responses_export_csv,
    survey_links_make,
    survey_save,
)


class QuestionInline(admin.TabularInline):
    model = Question
    fields = ("order", "kind", "title", "required", "option_count")
    readonly_fields = ("option_count",)
    extra = 1
    show_change_link = True

    @admin.display(description=_("选项"))
    def option_count(self, obj):
        if obj.pk is None:
            return "-"
        if not obj.has_options:
            return "-"
        return _("%(n)d 个（点右侧“修改”编辑选项）") % {"n": obj.options.count()}


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "repeat", "response_count", "created_at", "results_link")
    list_filter = ("status", "repeat")
    search_fields = ("title",)
    readonly_fields = ("created_by", "created_at", "updated_at")
    fields = (
        "title",
        "intro",
        "status",
        "repeat",
        "thanks_text",
        "created_by",
        "created_at",
        "updated_at",
    )
    inlines = [QuestionInline]
    change_form_template = "admin/surveys/survey/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_responses=Count("responses"))

    @admin.display(description=_("答卷数"), ordering="_responses")
    def response_count(self, obj):
        return obj._responses

    @admin.display(description=_("结果"))
    def results_link(self, obj):
        url = reverse("admin:surveys_survey_results", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("查看结果"))

    def save_model(self, request, obj, form, change):
        survey_save(survey=obj, actor=request.user)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/results/",
                self.admin_site.admin_view(self.results_view),
                name="surveys_survey_results",
            ),
            path(
                "<path:object_id>/links/",
                self.admin_site.admin_view(self.links_view),
                name="surveys_survey_links",
            ),
            path(
                "<path:object_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="surveys_survey_export",
            ),
            *super().get_urls(),
        ]

    def _survey(self, request, object_id) -> Survey:
        survey = self.get_object(request, object_id)
        if survey is None:
            raise Http404(_("问卷不存在"))
        if not self.has_view_or_change_permission(request, survey):
            raise PermissionDenied
        return survey

    def results_view(self, request, object_id):
        """Counts per option; respondents and short texts masked. A POST with
        ``reveal`` (``contacts.reveal_pii``) shows them in plain once, audited."""
        survey = self._survey(request, object_id)
        reveal = request.method == "POST" and bool(request.POST.get("reveal"))
        if reveal and not request.user.has_perm(REVEAL_PERMISSION):
            raise PermissionDenied
        results = survey_results(survey=survey, reveal=reveal)
        if reveal:
            answers_reveal_record(
                user=request.user, survey_id=survey.pk, count=results.texts_shown, request=request
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": survey,
            "title": _("问卷结果：%(title)s") % {"title": survey.title},
            "results": results,
            "revealed": reveal,
            "can_reveal": request.user.has_perm(REVEAL_PERMISSION),
            "can_export": request.user.has_perm(EXPORT_PERMISSION),
        }
        return TemplateResponse(request, "admin/surveys/survey/results.html", context)

    def links_view(self, request, object_id):
        """Ops paste WeCom customer ids or bank customer numbers and get each customer's
        personal link (to send by SMS, in a 1:1 message or a moments post)."""
        survey = self._survey(request, object_id)
        if not request.user.has_perm("surveys.make_survey_links"):
            raise PermissionDenied
        form = SurveyLinksForm(request.POST or None)
        links, missing, error = [], [], ""
        if request.method == "POST" and form.is_valid():
            try:
                found, missing = survey_links_make(
                    actor=request.user,
                    survey_id=survey.pk,
                    external_userids=form.cleaned_data["external_userids"],
                    customer_nos=form.cleaned_data["customer_nos"],
                )
            except DomainError as exc:
                error = exc.message
            else:
                links = [
                    {
                        "name": mask_name(link.customer.name),
                        "customer": link.customer,
                        "url": link.url,
                    }
                    for link in found
                ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": survey,
            "title": _("生成客户问卷链接：%(title)s") % {"title": survey.title},
            "form": form,
            "links": links,
            "missing": missing,
            "error": error,
        }
        return TemplateResponse(request, "admin/surveys/survey/links.html", context)

    def export_view(self, request, object_id):
        survey = self._survey(request, object_id)
        reveal = request.GET.get("reveal") == "1"
        try:
            body = responses_export_csv(
                user=request.user, survey_id=survey.pk, reveal=reveal, request=request
            )
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message) from exc
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(reverse("admin:surveys_survey_results", args=[survey.pk]))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}.csv"'
        return response


def _lines(value: str) -> list[str]:
    return list(
        dict.fromkeys(v.strip() for v in value.replace(",", "\n").splitlines() if v.strip())
    )


class SurveyLinksForm(forms.Form):
    external_userids = forms.CharField(
        label=_("企业微信客户ID"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    customer_nos = forms.CharField(
        label=_("行内客户号"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean_external_userids(self):
        return _lines(self.cleaned_data["external_userids"])

    def clean_customer_nos(self):
        return _lines(self.cleaned_data["customer_nos"])

    def clean(self):
        data = super().clean()
        total = len(data.get("external_userids") or []) + len(data.get("customer_nos") or [])
        if total == 0:
            raise forms.ValidationError(_("请至少填写一位客户（每行一个）"))
        if total > 1000:
            raise forms.ValidationError(_("一次最多 1000 位客户"))
        return data


class OptionForm(forms.ModelForm):
    class Meta:
        model = Option
        fields = ("order", "label", "tags", "interest", "points")

    def clean_interest(self):
        code = (self.cleaned_data.get("interest") or "").strip()
        if code and not Interest.objects.filter(code=code).exists():
            known = "、".join(
                Interest.objects.order_by("order", "code").values_list("code", flat=True)
            )
            raise forms.ValidationError(
                _("未知的兴趣代码，可选：%(codes)s") % {"codes": known or "-"}
            )
        return code


class OptionInline(admin.TabularInline):
    model = Option
    form = OptionForm
    extra = 2


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    """A question's own page, with its options inline (reached from its survey)."""

    list_display = ("title", "survey", "kind", "required", "order")
    list_filter = ("kind",)
    search_fields = ("title", "survey__title")
    fields = ("survey", "order", "kind", "title", "required")
    inlines = [OptionInline]

    def get_model_perms(self, request):
        return {}  # edited from its survey's page, not listed on the admin index

    def get_inline_instances(self, request, obj=None):
        if obj is not None and not obj.has_options:
            return []
        return super().get_inline_instances(request, obj)

    def response_post_save_change(self, request, obj):
        return redirect(reverse("admin:surveys_survey_change", args=[obj.survey_id]))
