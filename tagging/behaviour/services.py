"""Writes on behaviour events: record once, then hand the new ones to the rules above.

Every source (the events API, tracked materials, our own actions, surveys) goes
through ``events_record``: one ``INSERT … ON CONFLICT DO NOTHING`` for the batch,
and an ``EventBatch`` row in the same transaction that a Celery task (or, when the
broker lost it, the sweep) evaluates.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext

from contacts.models import Customer
from scrm.content.models import ContentVersion
from scrm.core.errors import DomainError
from scrm.core.links import LinkInvalid

from . import links, types
from .models import Event, EventBatch, EventType, Material, Watermark
from .sqlarrays import int_array, text_array

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventIn:
    event_id: str
    customer_id: int | None
    type: str
    occurred_at: datetime
    properties: dict = field(default_factory=dict)
    bank_record_id: int | None = None
    # ``properties`` as JSON text when the caller has it already (the events API
    # serialises each event's properties to check its size): not serialised twice.
    properties_json: str | None = field(default=None, compare=False, repr=False)


# The events not recorded before, and the batch of the new ones, in one statement and one
# round trip (building the batch's array through the ORM costs as much as the insert).
_INSERT_WITH_BATCH = """
WITH new AS (
    INSERT INTO behaviour_event
        (source, event_id, customer_id, bank_record_id, type, properties, occurred_at,
         received_at)
    SELECT %s, e.event_id, e.customer_id, e.bank_record_id, e.type, e.properties::jsonb,
           e.occurred_at, %s
      FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], %s::varchar[], %s::text[],
                  %s::timestamptz[])
           AS e(event_id, customer_id, bank_record_id, type, properties, occurred_at)
    ON CONFLICT (source, event_id) DO NOTHING
    RETURNING id, event_id
),
batch AS (
    INSERT INTO behaviour_eventbatch (event_ids, created_at, attempts)
    SELECT array_agg(id ORDER BY id), %s, 0 FROM new HAVING count(*) > 0
    RETURNING id
)
SELECT new.id, new.event_id, (SELECT id FROM batch) FROM new
"""


def events_record(*, events: list[EventIn], source: str) -> dict[str, int]:
    """Insert the events not recorded before; returns ``{event_id: id}`` of the new
    ones (a repeat of an earlier event, or of one earlier in the same list, is left
    out). The new ones are queued for the rules once the caller's transaction commits."""
    if not events:
        return {}
    seen: set[str] = set()
    unique = [e for e in events if not (e.event_id in seen or seen.add(e.event_id))]
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _INSERT_WITH_BATCH,
            [
                source,
                now,
                text_array(e.event_id for e in unique),
                int_array(e.customer_id for e in unique),
                int_array(e.bank_record_id for e in unique),
                text_array(e.type for e in unique),
                text_array(
                    e.properties_json or json.dumps(e.properties, ensure_ascii=False)
                    for e in unique
                ),
                # As text: psycopg2 adapts a datetime six times slower than a string.
                text_array(e.occurred_at.isoformat() for e in unique),
                now,
            ],
        )
        rows = cursor.fetchall()
        new = {event_id: pk for pk, event_id, _batch in rows}
        if rows:
            batch_id = rows[0][2]
            transaction.on_commit(lambda: _batch_enqueue(batch_id))
    return new


def event_record(
    *,
    customer_id: int,
    type: str,
    event_id: str,
    properties: dict | None = None,
    occurred_at: datetime | None = None,
    source: str = Event.Source.ACTION,
) -> int | None:
    """Record one event (our own actions: joined a group, claimed a coupon …); the new
    row's id, or None when this ``event_id`` was recorded before."""
    new = events_record(
        events=[
            EventIn(
                event_id=event_id,
                customer_id=customer_id,
                type=type,
                occurred_at=occurred_at or timezone.now(),
                properties=properties or {},
            )
        ],
        source=source,
    )
    return new.get(event_id)


def _batch_enqueue(batch_id: int) -> None:
    from .tasks import batch_process

    try:
        batch_process.delay(batch_id)
    except Exception:  # the broker is down: the sweep finds the batch
        log.warning("event batch %s not queued; the sweep will send it", batch_id)


# A batch task also takes the other batches waiting then (up to this many events): one
# evaluation of 10,000 events costs far less than ten of 1,000 (the statements, the
# level and push work run once), and under load the queue is what keeps the lag short.
COALESCE_EVENTS = 10_000

_CLAIM_MORE = """
SELECT id, event_ids FROM behaviour_eventbatch
 WHERE processed_at IS NULL AND id <> %s
 ORDER BY created_at
 LIMIT %s
   FOR UPDATE SKIP LOCKED
"""


def batch_process(*, batch_id: int, coalesce_events: int | None = None) -> bool:
    """Evaluate one batch, and with it the other batches still waiting (those no other
    worker holds, about ``COALESCE_EVENTS`` events in all), with whatever the apps
    above registered, then mark them done; False when the batch was done already (a
    redelivered task, or another task took it along). The batch rows are locked for
    the evaluation, so two workers never evaluate the same batch at once; the tasks
    of the batches taken along find them done."""
    from . import hooks

    budget = COALESCE_EVENTS if coalesce_events is None else coalesce_events
    with transaction.atomic():
        batch = (
            EventBatch.objects.select_for_update(skip_locked=True)
            .filter(pk=batch_id, processed_at__isnull=True)
            .first()
        )
        if batch is None:
            return False
        event_ids = list(batch.event_ids)
        done = [batch.pk]
        room = budget - len(event_ids)
        if room > 0:
            with connection.cursor() as cursor:
                # One batch per thousand events of room (a batch of the API holds
                # 1,000 at most; the budget is a soft one).
                cursor.execute(_CLAIM_MORE, [batch.pk, max(1, room // 1000)])
                for pk, ids in cursor.fetchall():
                    event_ids.extend(ids)
                    done.append(pk)
        hooks.events_recorded.call(event_ids=event_ids)
        EventBatch.objects.filter(pk__in=done).update(
            processed_at=timezone.now(), attempts=F("attempts") + 1
        )
    return True


def batches_pending(*, older_than_s: int = 60, limit: int = 500) -> list[int]:
    """Batches still unevaluated a while after they were made (the broker lost the task,
    or its worker died): the sweep sends them again."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_s)
    return list(
        EventBatch.objects.filter(processed_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


# --------------------------------------------------------------------------- materials

OPEN_DEDUPE_S = 30
DWELL_MAX_S = 1800


def material_for_link(*, url: str, title: str = "", content_id: int | None = None) -> Material:
    """The material of a link we send, made the first time the URL goes out (two
    senders at once make one: the URL is unique)."""
    material = Material.objects.filter(url=url).first()
    if material is not None:
        return material
    with transaction.atomic():
        material, _created = Material.objects.get_or_create(
            url=url,
            defaults={
                "title": (title or url)[:128],
                "first_content_id": content_id,
            },
        )
    return material


def _ours(url: str) -> bool:
    base = settings.SCRM_PUBLIC_URL.rstrip("/")
    return url.startswith((f"{base}/t/", f"{base}/h5/a/"))


def link_rewrite(
    *,
    url: str,
    title: str = "",
    content_id: int | None = None,
    customer_id: int | None = None,
    group_id: int | None = None,
) -> str | None:
    """The tracked URL to send instead of ``url`` to this customer (or group): our own
    article page for a material that is an approved library content, else the
    redirect. None (send as it is) for a URL that is not http(s) or already ours, or
    when the recipient is not known."""
    if not (customer_id or group_id) or not isinstance(url, str):
        return None
    # (The unique index on the URL holds at most ~2,700 bytes: a longer URL goes as it is.)
    if not url.startswith(("https://", "http://")) or len(url.encode()) > 2000 or _ours(url):
        return None
    material = material_for_link(url=url, title=title, content_id=content_id)
    article = material.article_id is not None and material_article(material) is not None
    return links.tracked_url(
        material_id=material.pk,
        customer_id=customer_id or None,
        group_id=None if customer_id else group_id,
        article=article,
    )


def material_article(material: Material):
    """The approved version of the material's article, or None."""
    if material.article_id is None:
        return None
    return (
        ContentVersion.objects.filter(
            content__pk=material.article_id, content__approved_version=F("pk")
        )
        .only("title", "text")
        .first()
    )


@dataclass(frozen=True)
class Opened:
    material: Material
    link: links.TrackedLink
    view: str  # names this page view (the dwell beacon of the article page carries it)
    event_pk: int | None


def _open_moment(link: links.TrackedLink) -> int:
    """The epoch millisecond that names this open: a second hit on the same link within
    ``OPEN_DEDUPE_S`` seconds of the first gets the first one's (so the event id is
    the same and the repeat is ignored); a later hit is a new open."""
    now = time.time_ns() // 1_000_000
    key = f"behaviour:open:{link.material_id}:{link.customer_id or 0}:{link.group_id or 0}"
    try:
        if cache.add(key, now, OPEN_DEDUPE_S):
            return now
        first = cache.get(key)
        return int(first) if first else now
    except Exception:  # Redis away: windows of fixed length instead
        log.warning("open dedupe without the cache")
        return now - now % (OPEN_DEDUPE_S * 1000)


def _view_sign(token: str, moment: int) -> str:
    digest = salted_hmac("behaviour.page-view", f"{token}:{moment}", algorithm="sha256")
    return f"{moment}.{digest.hexdigest()[:10]}"


def _view_read(token: str, view: str) -> int | None:
    moment_text = view.split(".", 1)[0] if isinstance(view, str) and len(view) < 40 else ""
    if not moment_text.isdigit():
        return None
    moment = int(moment_text)
    if not constant_time_compare(view, _view_sign(token, moment)):
        return None
    return moment


def material_open(*, token: str, material: Material | None = None) -> Opened:
    """Record the open of a tracked link (``LinkInvalid`` for a forged or altered one,
    recording nothing). A customer's open is a ``material_opened`` event and counts on
    the material; a group link's open counts on the material only (no one can be
    named). Repeats within ``OPEN_DEDUPE_S`` seconds count once."""
    link = links.token_read(token)
    if material is None or material.pk != link.material_id:
        material = Material.objects.filter(pk=link.material_id).first()
    if material is None:
        raise LinkInvalid(gettext("链接无效"), reason="material_unknown")
    moment = _open_moment(link)
    view = _view_sign(token, moment)
    if link.customer_id is None:
        if cache_first_hit(link, moment):
            Material.objects.filter(pk=material.pk).update(group_opens=F("group_opens") + 1)
        return Opened(material=material, link=link, view=view, event_pk=None)
    if (
        not Customer.objects.filter(pk=link.customer_id)
        .exclude(status=Customer.Status.ERASED)
        .exists()
    ):
        return Opened(material=material, link=link, view=view, event_pk=None)
    properties = {
        "material": material.pk,
        "category": material.category,
        "title": material.title,
        "channel": "single",
    }
    if material.interest:
        properties["interest"] = material.interest
    with transaction.atomic():
        pk = event_record(
            customer_id=link.customer_id,
            type=types.MATERIAL_OPENED,
            event_id=f"open:{material.pk}:{link.customer_id}:{moment}",
            properties=properties,
            occurred_at=datetime.fromtimestamp(moment / 1000, tz=UTC),
            source=Event.Source.MATERIAL,
        )
        if pk is not None:
            Material.objects.filter(pk=material.pk).update(opens=F("opens") + 1)
    return Opened(material=material, link=link, view=view, event_pk=pk)


def cache_first_hit(link: links.TrackedLink, moment: int) -> bool:
    """Whether this group-link hit is the first of its window (group opens have no
    event row to dedupe on)."""
    key = f"behaviour:group-open:{link.material_id}:{link.group_id}:{moment}"
    try:
        return bool(cache.add(key, 1, OPEN_DEDUPE_S * 2))
    except Exception:
        return True


def material_dwell(*, token: str, view: str, seconds) -> int | None:
    """Record how long one page view of our article page was read: one
    ``material_dwell`` event per view (``view`` as the page gave it, signed), seconds
    capped at ``DWELL_MAX_S``. ``LinkInvalid`` for a forged token or view; None when
    nothing was recorded (a group link, a repeat beacon)."""
    link = links.token_read(token)
    moment = _view_read(token, view)
    if moment is None:
        raise LinkInvalid(gettext("链接无效"), reason="bad_view")
    if type(seconds) is not int:
        try:
            seconds = int(float(seconds))
        except (TypeError, ValueError, OverflowError):
            raise LinkInvalid(gettext("链接无效"), reason="bad_seconds") from None
    seconds = max(0, min(seconds, DWELL_MAX_S))
    if link.customer_id is None or seconds <= 0:
        return None
    material = Material.objects.filter(pk=link.material_id).first()
    if material is None:
        raise LinkInvalid(gettext("链接无效"), reason="material_unknown")
    if (
        not Customer.objects.filter(pk=link.customer_id)
        .exclude(status=Customer.Status.ERASED)
        .exists()
    ):
        return None
    properties = {
        "material": material.pk,
        "category": material.category,
        "title": material.title,
        "seconds": seconds,
    }
    if material.interest:
        properties["interest"] = material.interest
    return event_record(
        customer_id=link.customer_id,
        type=types.MATERIAL_DWELL,
        event_id=f"dwell:{material.pk}:{link.customer_id}:{moment}",
        properties=properties,
        source=Event.Source.MATERIAL,
    )


# --------------------------------------------------------------------------- the admin's writes

EVENT_TYPE_FIELDS = ("code", "name", "description", "accept_from_api")
MATERIAL_FIELDS = ("title", "url", "category", "interest", "article")


def event_type_save(*, event_type: EventType) -> EventType:
    """Save a bank-side event type ops added or changed; the built-in ones (ours only)
    cannot be changed. The events API sees the change at once in this process and
    within ``intake.TYPES_TTL_S`` seconds in the others."""
    if event_type.pk and EventType.objects.filter(pk=event_type.pk, builtin=True).exists():
        raise DomainError("builtin_type", gettext("系统内置的事件类型不能修改"))
    event_type.builtin = False
    event_type.full_clean()
    event_type.save()
    return event_type


def event_type_delete(*, event_type: EventType) -> None:
    if event_type.builtin:
        raise DomainError("builtin_type", gettext("系统内置的事件类型不能删除"))
    event_type.delete()  # events keep their type code: rows are history


def material_save(*, material: Material) -> Material:
    """Save a material ops changed (title, category, interest, article); its tracked
    links keep working, they name the material by id."""
    material.full_clean()
    material.save()
    return material


# --------------------------------------------------------------------------- scan watermarks


def watermark_get(*, name: str, default: datetime) -> datetime:
    """How far the scan ``name`` has got; ``default`` before its first run."""
    at = Watermark.objects.filter(name=name).values_list("at", flat=True).first()
    return at or default


def watermark_set(*, name: str, at: datetime) -> None:
    """Move the scan ``name`` on to ``at`` (never back: two runs at once keep the later)."""
    Watermark.objects.bulk_create([Watermark(name=name, at=at)], ignore_conflicts=True)
    Watermark.objects.filter(name=name, at__lt=at).update(at=at, updated_at=timezone.now())
