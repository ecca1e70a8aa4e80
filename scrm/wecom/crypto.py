"""Callback crypto (WeCom's "加解密方案"): signatures, AES-256-CBC, and event parsing.

The app side verifies and decrypts with wechatpy's ``WeChatCrypto``; the sandbox
uses :func:`encrypt_event` to build the exact request WeCom would send.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
import xml.etree.ElementTree as ET  # noqa: N817, S405 - DTDs are refused before parsing
from dataclasses import dataclass
from functools import lru_cache

import xmltodict
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

__all__ = [
    "CallbackError",
    "Keys",
    "crypto_for",
    "decrypt_echostr",
    "decrypt_event",
    "encrypt_event",
    "event_xml",
    "signature",
]


class CallbackError(Exception):
    """A callback that must be refused; ``reason`` is logged, ``status`` answered."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Keys:
    token: str
    aes_key: str
    corp_id: str


@lru_cache(maxsize=8)
def crypto_for(keys: Keys) -> WeChatCrypto:
    return WeChatCrypto(keys.token, keys.aes_key, keys.corp_id)


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """SHA-1 of the four values sorted in dictionary order, lowercase hex."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()  # noqa: S324 - WeCom's protocol


def decrypt_echostr(
    keys: Keys, *, msg_signature: str, timestamp: str, nonce: str, echostr: str
) -> str:
    try:
        return crypto_for(keys).check_signature(msg_signature, timestamp, nonce, echostr)
    except InvalidSignatureException as exc:
        raise CallbackError("bad signature", 403) from exc
    except InvalidCorpIdException as exc:
        raise CallbackError("wrong corp id", 403) from exc
    except Exception as exc:  # corrupted base64 / padding: never a 500
        raise CallbackError(f"undecryptable echostr: {type(exc).__name__}") from exc


@lru_cache(maxsize=8)
def prp_for(keys: Keys) -> PrpCrypto:
    """The AES cipher for ``keys`` (immutable: each call makes its own decryptor)."""
    return PrpCrypto(crypto_for(keys).key)


# WeCom's envelope has three or four elements and its events a few levels of
# nesting (``MemChangeList/Item``; a body within WECOM_CALLBACK_MAX_BODY holds
# about 1,200 member ids). These bounds are far above that and keep a hostile
# document from costing more than a normal one (or raising a RecursionError).
_ENVELOPE_MAX_TAGS = 64
_MAX_DEPTH = 32
_MAX_ELEMENTS = 2000


class _TooComplex(Exception):
    pass


def _tree_fields(root: ET.Element) -> str | dict | None:
    """The tree as xmltodict shapes it, refusing one nested deeper than
    ``_MAX_DEPTH`` or with more than ``_MAX_ELEMENTS`` elements."""
    seen = 0

    def value(element: ET.Element, depth: int) -> str | dict | None:
        # A leaf is its text (stripped, None when empty); a parent, a dict of
        # its children, a repeated child as a list; attributes as ``@name``, a
        # parent's own text as ``#text``.
        nonlocal seen
        seen += 1
        if depth > _MAX_DEPTH or seen > _MAX_ELEMENTS:
            raise _TooComplex
        text = (element.text or "").strip() or None
        if not len(element) and not element.attrib:
            return text
        out: dict = {f"@{name}": v for name, v in element.attrib.items()}
        for child in element:
            child_value = value(child, depth + 1)
            if child.tag not in out:
                out[child.tag] = child_value
            elif isinstance(out[child.tag], list):
                out[child.tag].append(child_value)
            else:
                out[child.tag] = [out[child.tag], child_value]
            tail = (child.tail or "").strip()
            if tail:
                text = f"{text or ''}{tail}"
        if text:
            out["#text"] = text
        return out

    return value(root, 1)


def _parse_xml(raw: str | bytes, what: str) -> dict:
    """WeCom's XML (envelope or event) as a dict of its ``<xml>`` root's fields.

    The C parser builds the tree; a document type declaration (the only way to
    declare entities) is refused outright, as WeCom never sends one. Nesting
    depth and element count are bounded while the tree is read.
    """
    if (b"<!DOCTYPE" if isinstance(raw, bytes) else "<!DOCTYPE") in raw:
        raise CallbackError(f"malformed {what} xml: DTD not allowed")
    try:
        root = ET.fromstring(raw)  # noqa: S314 - no DTD, so no entities (checked above)
        fields = _tree_fields(root)
    except (ET.ParseError, ValueError) as exc:  # ValueError: text that is not encodable
        raise CallbackError(f"malformed {what} xml: {type(exc).__name__}") from exc
    except _TooComplex as exc:
        raise CallbackError(f"malformed {what} xml: too deep or too many elements") from exc
    if root.tag != "xml" or not isinstance(fields, dict):
        raise CallbackError(f"malformed {what} xml: no <xml> root")
    return fields


def decrypt_event(
    keys: Keys, *, body: bytes, msg_signature: str, timestamp: str, nonce: str
) -> dict:
    """Verify and decrypt a POSTed event; return its fields (all strings, nested dicts).

    Nothing decrypted is parsed before the signature over the ciphertext checks out.
    """
    # Every tag, end tag or CDATA section starts with "<": a count at memchr speed
    # refuses a junk body (thousands of elements) before the parser sees it.
    if body.count(b"<") > _ENVELOPE_MAX_TAGS:
        raise CallbackError("malformed envelope xml: too many elements")
    outer = _parse_xml(body, "envelope")
    encrypted = outer.get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise CallbackError("no Encrypt element")
    to_user = outer.get("ToUserName")
    if to_user is not None and to_user != keys.corp_id:
        raise CallbackError("wrong corp id", 403)
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
    if not secrets.compare_digest(
        signature(keys.token, timestamp, nonce, encrypted).encode(), msg_signature.encode()
    ):
        raise CallbackError("bad signature", 403)
    try:
        plain = prp_for(keys).decrypt(encrypted, keys.corp_id)
    except InvalidCorpIdException as exc:
        raise CallbackError("wrong corp id", 403) from exc
    except Exception as exc:
        raise CallbackError(f"undecryptable body: {type(exc).__name__}") from exc
    return _parse_xml(plain, "event")


def event_xml(fields: dict) -> str:
    """Render an event dict as WeCom's plaintext XML (``Item`` lists supported)."""
    return xmltodict.unparse({"xml": fields}, full_document=False)


def _nonce() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(10))


def encrypt_event(
    keys: Keys,
    plaintext: str,
    *,
    agent_id: str = "",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """The query string and body WeCom POSTs for one event (fresh nonce each call)."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or _nonce()
    encrypted = prp_for(keys).encrypt(plaintext, keys.corp_id).decode()
    query = {
        "msg_signature": signature(keys.token, timestamp, nonce, encrypted),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = (
        f"<xml><ToUserName><![CDATA[{keys.corp_id}]]></ToUserName>"
        f"<AgentID><![CDATA[{agent_id}]]></AgentID>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    ).encode()
    return query, body


def encrypt_echostr(keys: Keys, text: str, *, timestamp: str, nonce: str) -> dict[str, str]:
    """The query of a URL-verification GET (what WeCom sends when the URL is saved)."""
    encrypted = prp_for(keys).encrypt(text, keys.corp_id).decode()
    return {
        "msg_signature": signature(keys.token, timestamp, nonce, encrypted),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": encrypted,
    }


def keys_from_settings() -> Keys:
    from django.conf import settings

    return Keys(settings.WECOM_TOKEN, settings.WECOM_AES_KEY, settings.WECOM_CORP_ID)
