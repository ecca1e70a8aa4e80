"""Referral (老带新) and group fission: invite links, the invite chain, tiered rewards, key spreaders."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralConfig(AppConfig):
    name = "campaigns.referral"
    label = "referral"
    verbose_name = _("老带新")

    def ready(self) -> None:
        from campaigns import hooks as campaign_hooks
        from campaigns import links
        from contacts import hooks as contact_hooks
        from groups import hooks as group_hooks

        from . import services

        # The claim link its announcements carry opens the customer's invite page.
        links.PERSONAL_LINK_VIEWS["referral"] = "referral:h5-invite-from-claim"
        # A referral campaign goes to compliance with its tiers; gift names are checked too.
        campaign_hooks.review_checks.register(services.review_check)
        campaign_hooks.review_texts.register(services.review_texts)
        # An add through an invite code's contact way, and an invitee who deleted the manager.
        contact_hooks.customer_added.register(services.on_customer_added)
        contact_hooks.follow_relation_ended.register(services.on_follow_relation_ended)
        # Group fission: a join through an invite code's join way, and a member who left.
        group_hooks.member_joined.register(services.on_member_joined)
        group_hooks.member_left.register(services.on_member_left)
