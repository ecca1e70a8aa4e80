"""What apps above the workspace plug into it: task rules and per-kind "do it" actions.

The workspace owns the task list; the apps that own a kind of task say how its
tasks are created daily (a rule evaluator) and what "do it" means for it (an
action). They register from their ``AppConfig.ready``, so the workspace never
imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import ManagerTask, TaskRule

RuleEvaluator = Callable[["TaskRule", date], int]
# Called inside the transaction that holds the task's row lock; returns a callable run
# after the commit (the remote part, e.g. a WeCom call), or None when nothing is left.
TaskAction = Callable[["ManagerTask"], "Callable[[], str] | None"]

RULE_EVALUATORS: dict[str, RuleEvaluator] = {}
TASK_ACTIONS: dict[str, TaskAction] = {}


def rule_evaluator(kind: str) -> Callable[[RuleEvaluator], RuleEvaluator]:
    """Register the function that creates the tasks of a ``TaskRule`` kind for a day."""

    def register(fn: RuleEvaluator) -> RuleEvaluator:
        RULE_EVALUATORS[kind] = fn
        return fn

    return register


def task_action(kind: str) -> Callable[[TaskAction], TaskAction]:
    """Register the "do it" action of a task kind (the default sends the suggestion)."""

    def register(fn: TaskAction) -> TaskAction:
        TASK_ACTIONS[kind] = fn
        return fn

    return register
