"""WeChat message bodies: parsing pushes (XML or JSON), building passive replies, fitting text.

Parsing goes through defusedxml: the body comes from the internet before anything is trusted,
and entity expansion or external DTDs must never be honoured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from bot.messages import BotReply

Format = str  # "xml" or "json"


class MessageError(ValueError):
    """The body is not a WeChat message we can read."""


def parse_body(body: bytes) -> tuple[dict[str, str], Format]:
    """Top-level fields of an XML (`<xml>...</xml>`) or JSON object body, all as strings."""
    text = body.lstrip()
    if not text:
        raise MessageError("empty body")
    if text[:1] == b"{":
        try:
            data = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageError(f"malformed JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MessageError("JSON body is not an object")
        fields = {
            str(k): str(v) for k, v in data.items() if isinstance(v, str | int) and not isinstance(v, bool)
        }
        return fields, "json"
    if text[:1] != b"<":
        raise MessageError("body is neither XML nor JSON")
    try:
        root = SafeET.fromstring(text)
    except (ParseError, DefusedXmlException) as exc:
        raise MessageError(f"malformed XML: {exc}") from exc
    if root.tag != "xml":
        raise MessageError(f"XML root is <{root.tag}>, expected <xml>")
    return {child.tag: (child.text or "").strip() for child in root if len(child) == 0}, "xml"


@dataclass(frozen=True)
class Inbound:
    """The fields of one push that govbot uses."""

    to_user: str
    from_user: str
    create_time: str
    msg_type: str
    content: str = ""
    msg_id: str = ""
    event: str = ""
    recognition: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Inbound:
        missing = [k for k in ("ToUserName", "FromUserName", "CreateTime", "MsgType") if not fields.get(k)]
        if missing:
            raise MessageError(f"message lacks {', '.join(missing)}")
        if not fields["CreateTime"].isdigit():
            raise MessageError("CreateTime is not a number")
        return cls(
            to_user=fields["ToUserName"],
            from_user=fields["FromUserName"],
            create_time=fields["CreateTime"],
            msg_type=fields["MsgType"].lower(),
            content=fields.get("Content", ""),
            msg_id=fields.get("MsgId", ""),
            event=fields.get("Event", "").lower(),
            recognition=fields.get("Recognition", ""),
        )

    @property
    def text(self) -> str | None:
        """What the citizen said, when it is words (typed, or voice WeChat recognised)."""
        if self.msg_type == "text":
            return self.content
        if self.msg_type == "voice" and self.recognition.strip():
            return self.recognition
        return None

    @property
    def dedupe_id(self) -> str:
        """MsgId for messages; sender and time for events (which carry no MsgId)."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.from_user}:{self.create_time}:{self.event}"


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(*, to_user: str, from_user: str, content: str, create_time: int) -> str:
    """A passive text reply (the account answers the citizen who wrote)."""
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime>"
        f"<MsgType>{_cdata('text')}</MsgType>"
        f"<Content>{_cdata(content)}</Content></xml>"
    )


def encrypted_reply_xml(*, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    """The safe-mode wrapper around an encrypted passive reply."""
    return (
        f"<xml><Encrypt>{_cdata(encrypt)}</Encrypt>"
        f"<MsgSignature>{_cdata(msg_signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp>"
        f"<Nonce>{_cdata(nonce)}</Nonce></xml>"
    )


def render_reply(reply: BotReply) -> str:
    """Plain text for a platform without cards or buttons: options become a numbered list."""
    text = reply.reply.strip()
    if reply.options and not all(option.title in text for option in reply.options):
        listing = "\n".join(f"{i}. {o.title}" for i, o in enumerate(reply.options, start=1))
        text = f"{text}\n请回复序号选择：\n{listing}"
    return text


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, limit: int) -> tuple[str, str]:
    """The longest head within `limit` bytes (at a line break when one is near), and the rest."""
    if _utf8_len(text) <= limit:
        return text, ""
    head = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    newline = head.rfind("\n")
    if newline > len(head) // 2:
        head = head[:newline]
    return head.rstrip(), text[len(head) :].lstrip("\n")


def more_hint(link: str) -> str:
    return f"…（内容较长，完整内容请见：{link}）" if link else "…（内容较长，已省略部分内容）"


def fit_text(text: str, max_bytes: int, link: str = "") -> str:
    """One message within WeChat's limit; when cut, it says so and where to read the rest."""
    if _utf8_len(text) <= max_bytes:
        return text
    hint = more_hint(link)
    head, _ = _cut(text, max_bytes - _utf8_len(hint) - 1)
    return head + "\n" + hint


def split_text(text: str, max_bytes: int, max_parts: int, link: str = "") -> list[str]:
    """Up to `max_parts` messages within the limit, the last one cut with the hint if needed."""
    parts: list[str] = []
    rest = text
    while rest and len(parts) < max_parts - 1 and _utf8_len(rest) > max_bytes:
        head, rest = _cut(rest, max_bytes)
        parts.append(head)
    if rest:
        parts.append(fit_text(rest, max_bytes, link))
    return parts or [""]
