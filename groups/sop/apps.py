from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SopConfig(AppConfig):
    name = "groups.sop"
    label = "sop"
    verbose_name = _("SOP 日历")

    def ready(self) -> None:
        from scrm.workspace.models import ManagerTask
        from scrm.workspace.registry import task_action

        task_action(ManagerTask.Kind.GROUP_MESSAGE)(_group_message_act)


def _group_message_act(task):
    """A mass message is sent by its owner in WeCom; the task closes when WeCom reports it."""
    from scrm.core.errors import DomainError

    raise DomainError(
        "confirm_in_wecom", "请在企业微信「客户群群发」中确认发送，发送后任务自动完成"
    )
