"""Referral (老带新, D8): invite codes, the invite chain, success, lapses, tiered rewards.

The flow:

1. An inviter opens their personal link (``links.invite_url``); the first time, an
   invite code is made in WeCom (a contact way of their manager, or for group fission
   a join way of the program's groups) whose ``state`` names the code.
2. A friend scans it. contacts (``customer_added``) or groups (``member_joined``) tell
   us the state; ``invitation_record`` attributes the friend to the inviter, one level
   deeper in the chain, unless the invite is refused (self-invite, the same phone, an
   existing customer, a blacklisted customer, the campaign not live).
3. The invitation succeeds when the program's goal is met: at once for "added the
   manager" and "joined the group"; when the bank's systems report the friend verified
   or with a card opened (``conversion_record``).
4. At each tier's threshold of successful invites the inviter's reward is recorded once
   (a unique key per program, inviter and tier). Coupons are granted at once through
   the campaign core. Red packets and gifts wait ``reward_delay_workdays`` working days.
5. Invitees who delete the manager or leave the group lapse and stop counting.
6. On the due day ``reward_settle`` counts again (and lapses anyone whose relation is
   gone even if the callback was lost); below the threshold the reward is cancelled,
   otherwise a red packet goes to the payout ledger (due at once, the same bill for
   ever: ``source_key`` is the reward's) and a gift to fulfilment.

Why the count is checked here and not by a ledger condition: the ledger checks facts
about the payee (in the group, a friend, verified). Whether an inviter still has N
friends who count is referral's own rule, so the reward stays here until its day and
the ledger only ever sees a payout that is due. Nothing is paid that was not counted on
the payout day, and the ledger needs no knowledge of referral.
"""

from .chain import (
    invitation_progress,
    invitation_record,
    invitations_from_relations,
    invitations_reconcile,
    on_customer_added,
    on_follow_relation_ended,
    on_member_joined,
    on_member_left,
    phone_hashes,
)
from .codes import invite_code_ensure, invite_link_make, inviter_check
from .common import STATE_PREFIX, customer_named, invitations_lapse, successful_invites
from .conversions import ConversionResult, conversion_record
from .programs import (
    program_of_campaign,
    program_save,
    program_validate,
    review_check,
    review_texts,
)
from .rewards import gift_fulfil, reward_settle, rewards_evaluate, rewards_settle_due

__all__ = [
    "STATE_PREFIX",
    "ConversionResult",
    "conversion_record",
    "customer_named",
    "gift_fulfil",
    "invitation_progress",
    "invitation_record",
    "invitations_from_relations",
    "invitations_lapse",
    "invitations_reconcile",
    "invite_code_ensure",
    "invite_link_make",
    "inviter_check",
    "on_customer_added",
    "on_follow_relation_ended",
    "on_member_joined",
    "on_member_left",
    "phone_hashes",
    "program_of_campaign",
    "program_save",
    "program_validate",
    "review_check",
    "review_texts",
    "reward_settle",
    "rewards_evaluate",
    "rewards_settle_due",
    "successful_invites",
]
