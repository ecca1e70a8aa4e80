"""The payout ledger: every money reward is an entry, scheduled (possibly N working days later, on a condition checked on the day), sent through the payment adapter, paid once."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PayoutsConfig(AppConfig):
    name = "campaigns.payouts"
    label = "payouts"
    verbose_name = _("发放台账")

    def ready(self) -> None:
        from campaigns import hooks as campaign_hooks
        from groups import hooks

        from .red_packets import (
            red_packet_on_member_joined,
            red_packet_review_check,
            red_packet_review_texts,
        )

        hooks.member_joined.register(red_packet_on_member_joined)
        campaign_hooks.review_checks.register(red_packet_review_check)
        campaign_hooks.review_texts.register(red_packet_review_texts)
