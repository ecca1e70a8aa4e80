"""Admin of the content library.

Ops write content and submit it ("保存并提交审核"); compliance reviewers work
from the review queue and approve or reject with a comment on the change page.
Every rule is in ``services``; the form only runs the same checks early so the
banned phrase can be shown highlighted next to the field.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from scrm.core.errors import DomainError

from . import rules as content_rules
from . import selectors, services
from .models import BannedPhrase, Content, ContentReview, ContentReviewQueue, ContentVersion

SUBMIT_BUTTON = "_submit"
_SNIPPET = 12  # characters of context shown either side of a banned phrase


def highlight_hit(value: str, hit: content_rules.PhraseHit) -> SafeString:
    """An escaped excerpt of ``value`` with the banned phrase in <mark>."""
    start = max(0, hit.start - _SNIPPET)
    end = min(len(value), hit.end + _SNIPPET)
    return format_html(
        '{}{}<mark class="banned-phrase">{}</mark>{}{}',
        "…" if start > 0 else "",
        value[start : hit.start],
        value[hit.start : hit.end],
        value[hit.end : end],
        "…" if end < len(value) else "",
    )


def banned_phrase_messages(
    text: str, attachments: list[dict], hits: list[content_rules.PhraseHit]
) -> dict[str, list[SafeString]]:
    """Form errors by field ("text" or "attachments"), each naming phrase and position."""
    by_field: dict[str, list[SafeString]] = {}
    for hit in hits:
        if hit.field == "text":
            value, form_field = text, "text"
        else:
            index, key = hit.field[len("attachments[") :].split("].")
            item = attachments[int(index)]
            value, form_field = item[item["msgtype"]][key], "attachments"
        message = format_html(
            "{}：{}",
            _("含有金融营销禁用词「%(phrase)s」（%(where)s第 %(pos)s 个字）")
            % {
                "phrase": hit.phrase,
                "where": content_rules.field_label(hit.field),
                "pos": hit.start + 1,
            },
            highlight_hit(value, hit),
        )
        by_field.setdefault(form_field, []).append(message)
    return by_field


class ContentAdminForm(forms.ModelForm):
    # Set per request by ``ContentAdmin.get_form``: only ops write content.
    user_may_edit = True

    class Meta:
        model = Content
        fields = ["title", "text", "attachments"]
        widgets = {"text": forms.Textarea(attrs={"rows": 8, "cols": 80})}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        instance = self.instance
        if instance.pk and instance.status == Content.Status.PENDING:
            raise ValidationError(_("内容正在审核中，审核完成后才能修改"))
        if not self.user_may_edit:
            # A reviewer's page has no save button, but a stale or hand-made POST
            # reaches here with every field read-only: nothing to save.
            raise ValidationError(_("只有运营人员可以修改内容；请在审核区给出审核结论"))
        text = cleaned.get("text") or ""
        try:
            attachments = content_rules.attachments_normalize(cleaned.get("attachments"))
        except DomainError as exc:
            self.add_error("attachments", exc.message)
            return cleaned
        cleaned["attachments"] = attachments
        resubmits = (
            instance.pk
            and instance.status == Content.Status.APPROVED
            and (text != instance.text or attachments != instance.attachments)
        )
        if SUBMIT_BUTTON in self.data or resubmits:
            self._check_submission(text, attachments)
        return cleaned

    def _check_submission(self, text: str, attachments: list[dict]) -> None:
        try:
            services.content_submission_check(text=text, attachments=attachments)
        except content_rules.ContentCheckError as exc:
            if exc.hits:
                for field, errors in banned_phrase_messages(text, attachments, exc.hits).items():
                    for error in errors:
                        self.add_error(field, ValidationError(error))
            elif exc.code in ("text_too_long", "variable_unknown", "content_empty"):
                self.add_error("text", exc.message)
            else:
                self.add_error("attachments", exc.message)


@admin.register(Content)
class ContentAdmin(admin.ModelAdmin):
    form = ContentAdminForm
    change_form_template = "admin/content/content/change_form.html"
    list_display = ("title", "status", "sendable_version", "updated_by", "updated_at")
    list_filter = ("status",)
    search_fields = ("title", "text")
    actions = ["submit_selected"]

    @admin.display(description=gettext_lazy("可发送版本"))
    def sendable_version(self, obj: Content) -> str:
        return f"v{obj.approved_version.number}" if obj.approved_version_id else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("approved_version", "updated_by")

    def has_add_permission(self, request):
        return services.user_is_editor(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        # Content that was ever submitted is evidence of what compliance saw.
        return False

    def get_readonly_fields(self, request, obj=None):
        if not services.user_is_editor(request.user) or (
            obj and obj.status == Content.Status.PENDING
        ):
            return ("title", "text", "attachments")
        return ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user_may_edit = services.user_is_editor(request.user)  # a fresh class per call
        return form

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not services.user_is_editor(request.user):
            actions.pop("submit_selected", None)
        return actions

    # --- writes go through the services -----------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                services.content_update(
                    actor=request.user,
                    content_id=obj.pk,
                    title=data["title"],
                    text=data["text"],
                    attachments=data["attachments"],
                )
            else:
                created = services.content_create(
                    actor=request.user,
                    title=data["title"],
                    text=data["text"],
                    attachments=data["attachments"],
                )
                obj.pk = created.pk
                obj._state.adding = False
            obj.refresh_from_db()
            if SUBMIT_BUTTON in request.POST and obj.status != Content.Status.PENDING:
                services.content_submit(actor=request.user, content_id=obj.pk)
                obj.refresh_from_db()
            if obj.status == Content.Status.PENDING:
                self.message_user(request, _("已提交合规审核"), messages.INFO)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description=gettext_lazy("提交审核"))
    def submit_selected(self, request, queryset):
        submitted = 0
        for content in queryset:
            try:
                services.content_submit(actor=request.user, content_id=content.pk)
                submitted += 1
            except DomainError as exc:
                self.message_user(request, f"{content.title}：{exc.message}", messages.ERROR)
        if submitted:
            self.message_user(request, _("已提交 %(n)s 条内容") % {"n": submitted})

    # --- review -----------------------------------------------------------------

    def _review_url_name(self) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_review"

    def get_urls(self):
        review = path(
            "<int:object_id>/review/",
            self.admin_site.admin_view(self.review_view),
            name=self._review_url_name(),
        )
        return [review, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        content = self.get_object(request, object_id)
        if content is not None:
            is_editor = services.user_is_editor(request.user)
            editable = is_editor and content.status != Content.Status.PENDING
            extra.update(
                content=content,
                versions=selectors.content_versions(content_id=content.pk),
                can_submit=editable and content.status != Content.Status.APPROVED,
                can_review=services.user_is_reviewer(request.user)
                and content.status == Content.Status.PENDING,
                review_url=reverse(f"admin:{self._review_url_name()}", args=[content.pk]),
                show_save=editable,
                show_save_and_continue=editable,
                show_save_and_add_another=False,
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def add_view(self, request, form_url="", extra_context=None):
        extra = dict(extra_context or {}, can_submit=True, show_save_and_add_another=False)
        return super().add_view(request, form_url, extra_context=extra)

    def review_view(self, request, object_id: int):
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(object_id))
        if not services.user_is_reviewer(request.user):
            raise PermissionDenied
        content = get_object_or_404(Content, pk=object_id)
        comment = request.POST.get("comment", "")
        version = request.POST.get("version")
        version_number = int(version) if version and version.isdigit() else None
        decision = request.POST.get("decision")
        try:
            if decision == "approve":
                services.content_approve(
                    actor=request.user,
                    content_id=content.pk,
                    comment=comment,
                    version_number=version_number,
                )
                self.message_user(request, _("已审核通过：%(t)s") % {"t": content.title})
            elif decision == "reject":
                services.content_reject(
                    actor=request.user,
                    content_id=content.pk,
                    comment=comment,
                    version_number=version_number,
                )
                self.message_user(request, _("已驳回：%(t)s") % {"t": content.title})
            else:
                self.message_user(request, _("请选择审核结论"), messages.ERROR)
                return HttpResponseRedirect(self._change_url(object_id))
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(object_id))
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    def _change_url(self, object_id) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])


@admin.register(ContentReviewQueue)
class ContentReviewQueueAdmin(ContentAdmin):
    """Compliance's inbox: pending content, oldest submission first."""

    list_display = ("title", "pending_number", "submitted_by", "submitted_at")
    list_filter = ()
    actions = []

    def get_queryset(self, request):
        return selectors.content_review_queue()

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return ("title", "text", "attachments")

    @admin.display(description=gettext_lazy("待审核版本"))
    def pending_number(self, obj: Content) -> str:
        return f"v{obj.pending_version.number}" if obj.pending_version_id else "—"

    @admin.display(description=gettext_lazy("提交人"))
    def submitted_by(self, obj: Content) -> str:
        return str(obj.pending_version.submitted_by) if obj.pending_version_id else ""

    @admin.display(description=gettext_lazy("提交时间"))
    def submitted_at(self, obj: Content):
        return obj.pending_version.submitted_at if obj.pending_version_id else None


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContentVersion)
class ContentVersionAdmin(_ReadOnlyAdmin):
    list_display = ("content", "number", "submitted_by", "submitted_at")
    search_fields = ("title", "text")
    list_select_related = ("content", "submitted_by")


@admin.register(ContentReview)
class ContentReviewAdmin(_ReadOnlyAdmin):
    list_display = ("content", "version", "decision", "reviewer", "decided_at", "comment")
    list_filter = ("decision",)
    list_select_related = ("content", "version", "reviewer")


@admin.register(BannedPhrase)
class BannedPhraseAdmin(admin.ModelAdmin):
    """Compliance owns this list; ops see it but cannot weaken it.

    Phrases are switched off rather than deleted so past decisions stay explainable.
    """

    list_display = ("phrase", "is_active", "reason", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("phrase",)

    def has_view_permission(self, request, obj=None):
        return services.user_is_reviewer(request.user) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return services.user_is_reviewer(request.user)

    def has_change_permission(self, request, obj=None):
        return services.user_is_reviewer(request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return services.user_is_reviewer(request.user) or super().has_module_permission(request)
