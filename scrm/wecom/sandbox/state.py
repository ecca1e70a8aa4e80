"""The sandbox's in-memory WeCom: ``Sandbox`` and its endpoint table, assembled from the areas.

All state lives in one object guarded by one lock; the HTTP layer only parses
requests and serialises answers. Errcodes and messages follow WeCom's. The core
(config, state, tokens, faults, dispatch) is in ``base``; each API area is a
module with a mixin (or handler functions, as ``transfers``) and its ``API``
fragment, joined here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from . import (
    base,
    contact_ways,
    contacts,
    directory,
    group_stats,
    groups,
    mass_messages,
    tags,
    transfers,
    welcome_templates,
)
from .base import NO_TOKEN, ApiError, Fault, Handler, SandboxBase, SandboxConfig, State, _id
from .contact_ways import ContactWaysMixin
from .contacts import ContactsMixin
from .directory import DirectoryMixin
from .group_stats import GroupStatsMixin
from .groups import GroupsMixin
from .mass_messages import MassMessagesMixin
from .tags import TagsMixin
from .welcome_templates import WelcomeTemplatesMixin

__all__ = [
    "API",
    "NO_TOKEN",
    "ApiError",
    "Fault",
    "Handler",
    "Sandbox",
    "SandboxBase",
    "SandboxConfig",
    "State",
    "_id",
]


API: dict[str, Callable[[Sandbox, dict, dict], dict]] = {
    **base.API,
    **directory.API,
    **contacts.API,
    **contact_ways.API,
    **tags.API,
    **groups.API,
    **group_stats.API,
    **welcome_templates.API,
    **mass_messages.API,
    **transfers.API,
}


class Sandbox(
    DirectoryMixin,
    ContactsMixin,
    ContactWaysMixin,
    TagsMixin,
    GroupsMixin,
    GroupStatsMixin,
    WelcomeTemplatesMixin,
    MassMessagesMixin,
):
    """WeCom's server side. ``api()`` answers one API request; ``act_*`` simulate people."""

    endpoints = API

    def snapshot(self) -> dict:
        with self.lock:
            s = self.state
            return {
                "users": list(s.users.values()),
                "customers": list(s.customers.values()),
                "follows": [
                    {"external_userid": ext, **{k: v for k, v in f.items()}}
                    for (ext, _u), f in s.follows.items()
                ],
                "contact_ways": list(s.contact_ways.values()),
                "welcome_sent": list(s.welcome_sent),
                "tag_groups": self._groups_public([], []),
                "tag_marks": list(s.tag_marks),
                "chats": [
                    {
                        **{k: v for k, v in c.items() if k != "members"},
                        "member_list": list(c["members"].values()),
                    }
                    for c in s.chats.values()
                ],
                "join_ways": list(s.join_ways.values()),
                "group_welcome_templates": list(s.group_welcome_templates.values()),
                "chat_messages": list(s.chat_messages),
                "msgs": [{k: v for k, v in m.items()} for m in s.msgs.values()],
                "faults": {k: [asdict(f) for f in v] for k, v in s.faults.items()},
                "callbacks": list(s.callbacks),
                "config": asdict(self.config),
            }
