"""Lotteries under a budget: a prize table with weights and stock, draws in one transaction, replayable records."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LotteryConfig(AppConfig):
    name = "campaigns.lottery"
    label = "lottery"
    verbose_name = _("抽奖")

    def ready(self) -> None:
        from campaigns import hooks, links

        from .services.prizes import lottery_review_checks, lottery_review_texts

        hooks.review_checks.register(lottery_review_checks)
        hooks.review_texts.register(lottery_review_texts)
        # A lottery's personal link (announcements carry it) opens its draw page.
        links.PERSONAL_LINK_VIEWS["lottery"] = "lottery:h5-draw"
