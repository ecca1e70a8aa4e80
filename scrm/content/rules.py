"""Pure rules of the content library: attachment shapes, variables, WeCom limits,
banned-phrase matching and the WeCom message payload.

Nothing here touches the database, so services, the admin form and the API all
apply exactly the same checks. Shapes follow WeCom's ``add_msg_template`` /
``send_welcome_msg`` attachments (wecom-api.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from scrm.core.errors import DomainError

# WeCom's limits for one message.
MAX_TEXT_BYTES = 4000
MAX_ATTACHMENTS = 9
# Field limits from WeCom's attachment reference (bytes, UTF-8).
LINK_TITLE_MAX_BYTES = 128
LINK_DESC_MAX_BYTES = 512
LINK_URL_MAX_BYTES = 2048
MINIPROGRAM_TITLE_MAX_BYTES = 64

# The variables a piece of content may use. Keys are what ops type between braces.
VAR_CUSTOMER_NAME = "客户名称"
VAR_GROUP_NAME = "群名称"
VAR_MANAGER_NAME = "客户经理"
VARIABLES: tuple[str, ...] = (VAR_CUSTOMER_NAME, VAR_GROUP_NAME, VAR_MANAGER_NAME)

# Anything in single braces counts as a variable, so a typo such as {客户姓名}
# is caught at submission instead of reaching a customer verbatim.
_VARIABLE_RE = re.compile(r"\{([^{}\n]{1,32})\}")

ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")


class ContentCheckError(DomainError):
    """A submission check failed. ``hits`` carries banned-phrase matches, if any."""

    def __init__(self, code: str, message: str, *, hits: list[PhraseHit] | None = None):
        self.hits = hits or []
        data = {"phrases": [hit.as_dict() for hit in self.hits]} if self.hits else None
        super().__init__(code, message, data=data)


def _bytes(value: str) -> int:
    return len(value.encode("utf-8"))


# --- attachments ---------------------------------------------------------------


def _str_field(item: dict, key: str, *, where: str, required: bool, max_bytes: int = 0) -> str:
    value = item.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError("attachment_invalid", _("%(where)s 的 %(key)s 必须是文本") % locals())
    value = value.strip()
    if required and not value:
        raise DomainError("attachment_invalid", _("%(where)s 缺少 %(key)s") % locals())
    if max_bytes and _bytes(value) > max_bytes:
        raise DomainError(
            "attachment_invalid",
            _("%(where)s 的 %(key)s 超过 %(max_bytes)s 字节") % locals(),
        )
    return value


def _url_field(item: dict, key: str, *, where: str, required: bool) -> str:
    value = _str_field(item, key, where=where, required=required, max_bytes=LINK_URL_MAX_BYTES)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DomainError(
                "attachment_invalid",
                _("%(where)s 的 %(key)s 必须是 http(s) 网址") % locals(),
            )
    return value


def attachments_normalize(attachments: object) -> list[dict]:
    """Check each attachment's shape and return clean copies in WeCom's shape.

    Accepted items are exactly WeCom's: ``{"msgtype": "link", "link": {...}}``.
    Unknown keys are dropped so nothing unexpected is ever sent.
    """
    if attachments in (None, ""):
        return []
    if not isinstance(attachments, list):
        raise DomainError("attachment_invalid", _("附件必须是列表"))
    clean: list[dict] = []
    for index, item in enumerate(attachments):
        where = _("第 %(n)s 个附件") % {"n": index + 1}
        if not isinstance(item, dict):
            raise DomainError("attachment_invalid", _("%(where)s 格式不正确") % {"where": where})
        msgtype = item.get("msgtype")
        body = item.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in ATTACHMENT_TYPES or not isinstance(body, dict):
            raise DomainError(
                "attachment_invalid",
                _("%(where)s 的类型必须是 image、link、miniprogram、video 或 file 之一")
                % {"where": where},
            )
        if msgtype == "image":
            media_id = _str_field(body, "media_id", where=where, required=False)
            pic_url = _url_field(body, "pic_url", where=where, required=False)
            if bool(media_id) == bool(pic_url):
                raise DomainError(
                    "attachment_invalid",
                    _("%(where)s 图片需要 media_id 或 pic_url 二选一") % {"where": where},
                )
            image = {"media_id": media_id} if media_id else {"pic_url": pic_url}
            clean.append({"msgtype": "image", "image": image})
        elif msgtype == "link":
            link = {
                "title": _str_field(
                    body, "title", where=where, required=True, max_bytes=LINK_TITLE_MAX_BYTES
                ),
                "picurl": _url_field(body, "picurl", where=where, required=False),
                "desc": _str_field(
                    body, "desc", where=where, required=False, max_bytes=LINK_DESC_MAX_BYTES
                ),
                "url": _url_field(body, "url", where=where, required=True),
            }
            clean.append({"msgtype": "link", "link": {k: v for k, v in link.items() if v}})
        elif msgtype == "miniprogram":
            mini = {
                "title": _str_field(
                    body,
                    "title",
                    where=where,
                    required=True,
                    max_bytes=MINIPROGRAM_TITLE_MAX_BYTES,
                ),
                "pic_media_id": _str_field(body, "pic_media_id", where=where, required=True),
                "appid": _str_field(body, "appid", where=where, required=True),
                "page": _str_field(body, "page", where=where, required=True),
            }
            clean.append({"msgtype": "miniprogram", "miniprogram": mini})
        else:  # video, file
            media_id = _str_field(body, "media_id", where=where, required=True)
            clean.append({"msgtype": msgtype, msgtype: {"media_id": media_id}})
    return clean


def sendable_texts(text: str, attachments: list[dict]) -> Iterable[tuple[str, str]]:
    """(field, value) pairs a customer reads: checked for variables and banned phrases."""
    yield "text", text
    for index, item in enumerate(attachments):
        body = item.get(item.get("msgtype", ""), {})
        for key in ("title", "desc"):
            if body.get(key):
                yield f"attachments[{index}].{key}", body[key]


# --- variables -----------------------------------------------------------------


def variables_used(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in _VARIABLE_RE.finditer(text)))


def variables_check(text: str, attachments: list[dict]) -> list[str]:
    """Return the variables used; refuse unknown ones."""
    used: list[str] = []
    for _field, value in sendable_texts(text, attachments):
        used.extend(v for v in variables_used(value) if v not in used)
    unknown = [v for v in used if v not in VARIABLES]
    if unknown:
        raise ContentCheckError(
            "variable_unknown",
            _("不支持的变量：%(unknown)s。可用变量：%(known)s")
            % {
                "unknown": "、".join("{" + v + "}" for v in unknown),
                "known": "、".join("{" + v + "}" for v in VARIABLES),
            },
        )
    return used


def variables_render(template: str, values: Mapping[str, str]) -> str:
    """Replace each {变量} once with its value taken literally.

    One regex pass, never ``str.format``: a value containing braces is not
    expanded again and no attribute lookups are possible.
    """

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in VARIABLES:
            raise DomainError("variable_unknown", _("不支持的变量：{%(name)s}") % {"name": name})
        value = values.get(name)
        if value is None or str(value).strip() == "":
            raise DomainError("variable_missing", _("缺少变量的值：{%(name)s}") % {"name": name})
        # Control characters never belong in a chat message.
        return "".join(ch for ch in str(value) if unicodedata.category(ch)[0] != "C")

    return _VARIABLE_RE.sub(replace, template)


# --- limits --------------------------------------------------------------------


def limits_check(text: str, attachments: list[dict]) -> None:
    if not text.strip() and not attachments:
        raise ContentCheckError("content_empty", _("内容为空：请填写正文或添加附件"))
    size = _bytes(text)
    if size > MAX_TEXT_BYTES:
        raise ContentCheckError(
            "text_too_long",
            _("正文为 %(size)s 字节，企业微信上限为 %(max)s 字节（UTF-8）")
            % {"size": size, "max": MAX_TEXT_BYTES},
        )
    if len(attachments) > MAX_ATTACHMENTS:
        raise ContentCheckError(
            "too_many_attachments",
            _("附件有 %(count)s 个，企业微信上限为 %(max)s 个")
            % {"count": len(attachments), "max": MAX_ATTACHMENTS},
        )


# --- banned phrases ------------------------------------------------------------

# Characters people slip between the characters of a banned phrase ("保 本", "稳*赚").
# Sentence punctuation is not in the list: "确保，本周" must not read as "保本".
_FILLERS = set(" \t\r\n\u3000\u200b\u200c\u200d\ufeff*·•_-~|/\\")


@dataclass(frozen=True)
class PhraseHit:
    phrase: str
    field: str
    start: int  # character offsets in the field, end exclusive
    end: int
    matched: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PhraseRule:
    phrase: str
    exceptions: tuple[str, ...] = ()


def _normalize(value: str) -> tuple[str, list[int]]:
    """Fold width and case and drop fillers; keep each kept char's original index."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(value):
        if ch in _FILLERS:
            continue
        folded = unicodedata.normalize("NFKC", ch).casefold()
        if not folded or folded in _FILLERS:
            continue
        for part in folded:
            chars.append(part)
            index.append(i)
    return "".join(chars), index


def phrases_find(
    value: str, rules: Iterable[PhraseRule], *, field: str = "text"
) -> list[PhraseHit]:
    """Every occurrence of every banned phrase in ``value``, in order of position.

    An occurrence inside one of the rule's exceptions (e.g. 保本 inside 非保本, the
    regulator's own product classification) is allowed.
    """
    norm, index = _normalize(value)
    hits: list[PhraseHit] = []
    for rule in rules:
        needle, _needle_index = _normalize(rule.phrase)
        if not needle:
            continue
        allowed: list[tuple[int, int]] = []
        for exception in rule.exceptions:
            ex, _ex_index = _normalize(exception)
            if not ex:
                continue
            start = norm.find(ex)
            while start != -1:
                allowed.append((start, start + len(ex)))
                start = norm.find(ex, start + 1)
        start = norm.find(needle)
        while start != -1:
            end = start + len(needle)
            if not any(a <= start and end <= b for a, b in allowed):
                o_start, o_end = index[start], index[end - 1] + 1
                hits.append(PhraseHit(rule.phrase, field, o_start, o_end, value[o_start:o_end]))
            start = norm.find(needle, start + 1)
    hits.sort(key=lambda h: (h.start, h.phrase))
    return hits


def phrases_check(text: str, attachments: list[dict], rules: list[PhraseRule]) -> None:
    hits: list[PhraseHit] = []
    for field, value in sendable_texts(text, attachments):
        hits.extend(phrases_find(value, rules, field=field))
    if hits:
        listed = "、".join(
            _("「%(phrase)s」（%(where)s第 %(pos)s 个字）")
            % {"phrase": h.phrase, "where": field_label(h.field), "pos": h.start + 1}
            for h in hits
        )
        raise ContentCheckError(
            "banned_phrase",
            _("内容含有金融营销禁用词：%(listed)s，请修改后再提交") % {"listed": listed},
            hits=hits,
        )


def field_label(field: str) -> str:
    if field == "text":
        return _("正文")
    match = re.fullmatch(r"attachments\[(\d+)\]\.(\w+)", field)
    if match:
        part = _("标题") if match.group(2) == "title" else _("描述")
        return _("第 %(n)s 个附件%(part)s") % {"n": int(match.group(1)) + 1, "part": part}
    return field


# --- submission and sending ----------------------------------------------------


def submission_check(
    *, text: str, attachments: object, rules: list[PhraseRule]
) -> tuple[list[dict], list[str]]:
    """Everything a submission must pass, in the order ops should fix things.

    Returns the normalized attachments and the variables used.
    """
    clean = attachments_normalize(attachments)
    limits_check(text, clean)
    used = variables_check(text, clean)
    phrases_check(text, clean, rules)
    return clean, used


def message_payload_build(
    *, text: str, attachments: list[dict], variables: Mapping[str, str] | None = None
) -> dict:
    """A WeCom ``text`` + ``attachments`` payload with the variables filled in.

    Limits are checked on the rendered result: a long customer name can push a
    text that passed at submission over 4000 bytes.
    """
    values = variables or {}
    clean = attachments_normalize(attachments)
    rendered_text = variables_render(text, values)
    rendered: list[dict] = []
    for item in clean:
        msgtype = item["msgtype"]
        body = dict(item[msgtype])
        for key in ("title", "desc"):
            if key in body and msgtype in ("link", "miniprogram"):
                body[key] = variables_render(body[key], values)
        rendered.append({"msgtype": msgtype, msgtype: body})
    limits_check(rendered_text, rendered)
    payload: dict = {}
    if rendered_text.strip():
        payload["text"] = {"content": rendered_text}
    payload["attachments"] = rendered
    return payload
