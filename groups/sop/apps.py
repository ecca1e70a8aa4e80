from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SopConfig(AppConfig):
    name = "groups.sop"
    label = "sop"
    verbose_name = _("SOP 日历")

    def ready(self) -> None:
        from datetime import timedelta

        from scrm.core import metrics
        from scrm.workspace.models import ManagerTask
        from scrm.workspace.registry import task_action

        from .models import SopDelivery, SopPush

        task_action(ManagerTask.Kind.GROUP_MESSAGE)(_group_message_act)
        # /metrics: work in hand of any age (few rows: it drains), and how the sends of
        # the last day went (their occurrences by the indexed send time). Older
        # outcomes, and pushes owners never confirmed, are history, not counted.
        day = timedelta(hours=24)
        delivery, push = SopDelivery.Status, SopPush.Status
        metrics.register_source(
            "sop_deliveries",
            metrics.status_counts(
                "scrm_sop_deliveries",
                "SOP deliveries (one group's copy of a send) by status: pending and "
                "pushing ones of any age, the others of sends in the last 24 hours",
                model=SopDelivery,
                statuses=[delivery.PENDING, delivery.PUSHING],
                recent=metrics.Recent(
                    "occurrence__send_at",
                    day,
                    [
                        delivery.AWAITING_CONFIRM,
                        delivery.SENT,
                        delivery.SKIPPED,
                        delivery.FAILED,
                        delivery.CANCELLED,
                    ],
                ),
            ),
        )
        metrics.register_source(
            "sop_pushes",
            metrics.status_counts(
                "scrm_sop_pushes",
                "SOP mass messages (one owner's groups in one send) by status: pending and "
                "calling ones of any age, the others of sends in the last 24 hours",
                model=SopPush,
                statuses=[push.PENDING, push.CALLING],
                recent=metrics.Recent(
                    "occurrence__send_at",
                    day,
                    [push.AWAITING_CONFIRM, push.DONE, push.FAILED, push.CANCELLED],
                ),
            ),
        )


def _group_message_act(task):
    """A mass message is sent by its owner in WeCom; the task closes when WeCom reports it."""
    from scrm.core.errors import DomainError

    raise DomainError(
        "confirm_in_wecom", "请在企业微信「客户群群发」中确认发送，发送后任务自动完成"
    )
