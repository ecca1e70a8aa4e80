from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkspaceConfig(AppConfig):
    """The manager's task list: tasks, task rules, the worklist pages and API.

    Low in the app order: contacts, groups and SOP put tasks here. What is specific
    to a kind of task (the rule that creates it, its "do it" action) is registered by
    the app that owns the kind, from its ``AppConfig.ready``.
    """

    name = "scrm.workspace"
    label = "workspace"
    verbose_name = _("客户经理任务")
