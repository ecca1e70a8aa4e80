"""WeChat Pay v2's wire format, shared by the channel and the sandbox.

Requests and answers are flat XML documents (``<xml><key><![CDATA[value]]></key>…</xml>``).
``sign`` covers every non-empty field but ``sign`` itself, sorted by name, joined as
``k=v&…`` with ``&key=<merchant API key>`` appended, MD5 or HMAC-SHA256, upper-case hex.
The red packets from WeCom carry a second signature, ``workwx_sign``, over seven fields
only and keyed by the WeCom payment app's secret (``&secret=…``), always MD5.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from xml.etree import ElementTree as ET  # noqa: S405 - parses only the sandbox's/WeChat Pay's answers

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
WORKWX_SIGN_FIELDS = (
    "act_name",
    "mch_billno",
    "mch_id",
    "nonce_str",
    "re_openid",
    "total_amount",
    "wxappid",
)


def nonce() -> str:
    return secrets.token_hex(16)


def _joined(fields: dict[str, object], names=None) -> str:
    keys = sorted(k for k in (names or fields) if k != "sign" and fields.get(k) not in (None, ""))
    return "&".join(f"{k}={fields[k]}" for k in keys)


def sign(fields: dict[str, object], key: str, sign_type: str = MD5) -> str:
    """The ``sign`` of a request or answer."""
    text = f"{_joined(fields)}&key={key}"
    if sign_type == HMAC_SHA256:
        return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    if sign_type == MD5:
        return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324 - WeChat Pay's protocol
    raise ValueError(f"unknown sign_type {sign_type!r}")


def workwx_sign(fields: dict[str, object], secret: str) -> str:
    """The ``workwx_sign`` of a red packet from WeCom: seven fields, ``&secret=``, MD5."""
    text = f"{_joined(fields, WORKWX_SIGN_FIELDS)}&secret={secret}"
    return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324 - WeChat Pay's protocol


def _cdata(value: object) -> str:
    text = str(value)
    if "]]>" in text:
        text = text.replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{text}]]>"


def to_xml(fields: dict[str, object]) -> bytes:
    parts = ["<xml>"]
    for key, value in fields.items():
        if value is None:
            continue
        if not key.isidentifier():
            raise ValueError(f"bad field name {key!r}")
        parts.append(f"<{key}>{_cdata(value)}</{key}>")
    parts.append("</xml>")
    return "".join(parts).encode()


def from_xml(body: bytes | str) -> dict[str, str]:
    """A flat ``<xml>`` document as a dict; ``ValueError`` if it is not one."""
    if isinstance(body, str):
        body = body.encode()
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ValueError("DTDs are not accepted")
    try:
        root = ET.fromstring(body)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from exc
    if root.tag != "xml":
        raise ValueError("root element must be <xml>")
    return {child.tag: (child.text or "") for child in root}


def verify(fields: dict[str, str], key: str, sign_type: str = MD5) -> bool:
    given = fields.get("sign", "")
    return bool(given) and hmac.compare_digest(given, sign(fields, key, sign_type))
