from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WecomConfig(AppConfig):
    name = "scrm.wecom"
    label = "wecom"
    verbose_name = _("企业微信")

    def ready(self) -> None:
        from datetime import timedelta

        from scrm.core import metrics
        from scrm.core.health import CHECKS

        from .models import ApiCall, InboxEvent
        from .sync import check_reconcile

        # /healthz alerts while a reconcile waits for ops to confirm a mass removal.
        CHECKS["reconcile"] = check_reconcile
        # /metrics: the callback inbox (each status counted has a partial index, and the
        # oldest waiting row is the first entry of the pending one) and WeCom's answers.
        inbox = InboxEvent.Status
        metrics.register_source(
            "wecom_inbox",
            metrics.status_counts(
                "scrm_wecom_inbox_events",
                "Callback events waiting, in hand or parked dead, by status",
                model=InboxEvent,
                statuses=[inbox.PENDING, inbox.PROCESSING, inbox.DEAD],
            ),
            metrics.oldest_age(
                "scrm_wecom_inbox_lag_seconds",
                "Age of the oldest callback event waiting to be processed (0: none waits)",
                rows=InboxEvent.objects.filter(status=inbox.PENDING).order_by("id"),
                field="received_at",
            ),
        )
        metrics.register_source(
            "wecom_api_calls",
            metrics.recent_counts(
                "scrm_wecom_api_calls_last_5m",
                "WeCom API calls in the last 5 minutes by endpoint and errcode "
                "(none: no JSON answer, e.g. an HTTP error or a timeout)",
                model=ApiCall,
                time_field="at",
                window=timedelta(minutes=5),
                labels=["endpoint", "errcode"],
            ),
        )
