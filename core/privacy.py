"""The one PII policy: how citizens' phone, ID card, bank card and plate numbers are masked
wherever text leaves the place it is needed (logs, reports, the unanswered log, pushes, views).

Numbers are matched as citizens really type them: +86 / 0086 / 86 prefixes, spaces or dashes
between groups, full-width digits, and right after a URL escape (`%b713812345678`), whose hex
digit would otherwise look like part of the number. Masking keeps enough to recognise a number
(138****5678) and never enough to use it. Ticket numbers (20261123-0042) and hotline numbers stay.
"""

from __future__ import annotations

import hashlib
import re

# full-width digits, X and separators typed by IMEs, mapped one to one onto ASCII
_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ－＋\u3000", "0123456789Xx-+ ")
_SEP = r"[ \-]?"
# before a number: no digit, unless it ends a URL escape (%b7) or a JSON escape (\u53f7)
_START = r"(?:(?<=%[0-9A-Fa-f]{2})|(?<=\\u[0-9A-Fa-f]{4})|(?<![0-9]))"
_END = r"(?![0-9])"

_ID18 = re.compile(_START + rf"(\d{{6}}){_SEP}(\d{{8}}){_SEP}(\d{{3}}[\dXx])" + _END)
# 15-digit (pre-1999) cards: region, YYMMDD with a real month and day, sequence
_ID15 = re.compile(
    _START + rf"(\d{{6}}){_SEP}(\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])){_SEP}(\d{{3}})" + _END
)
_MOBILE = re.compile(_START + rf"((?:\+|00)?86{_SEP})?(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})" + _END)
# bank cards: 16 to 19 digits, in one run or in groups of four with one kind of separator
_BANK = re.compile(_START + r"(?:\d{16,19}|\d{4}([ \-])\d{4}(?:\1\d{4}){2}(?:\1\d{1,3})?)" + _END)
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Za-hj-np-z"
_PLATE = re.compile(
    rf"([{_PROVINCES}])\s?([{_LETTER}])[·・.\s\-]?([{_LETTER}0-9]{{3,4}})([{_LETTER}0-9]{{2}})(?![0-9A-Za-z])"
)


# WeChat callback URLs carry the user's openid (…&openid=o6_bm…); replies name it as touser
_OPENID = re.compile(r"((?:open_?id|touser|FromUserName)[\"']?\s*[=:]\s*[\"']?)([A-Za-z0-9_\-]{6,64})", re.I)


def mask_personal(text: str) -> str:
    """ID, mobile, bank card and plate numbers masked, and openids replaced by their pseudonym,
    for every output that needs none of them."""
    text = _OPENID.sub(lambda m: m[1] + pseudonym(m[2]), text.translate(_WIDTH))
    text = _ID18.sub(lambda m: f"{m[1]}********{m[3][-4:]}", text)
    text = _ID15.sub(lambda m: f"{m[1]}******{m[3]}", text)
    text = _MOBILE.sub(lambda m: f"{m[2]}****{m[4]}", text)
    text = _BANK.sub(_mask_card, text)
    return _PLATE.sub(_mask_plate, text)


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match[0])
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def _mask_plate(match: re.Match[str]) -> str:
    if not re.search(r"\d", match[3] + match[4]):  # 苏ABCDE is a word, not a plate
        return match[0]
    return f"{match[1]}{match[2].upper()}***{match[4].upper()}"


def mask_phone(phone: str) -> str:
    """138****5678: the first three and last four digits stay."""
    digits = phone.replace("-", "")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def pseudonym(identifier: str) -> str:
    """A stable stand-in for an account id (a WeChat openid) in logs: the same id gives the
    same pseudonym, so one user's lines can still be followed, but the id cannot be read back."""
    if not identifier:
        return identifier
    return "u:" + hashlib.sha256(identifier.encode()).hexdigest()[:12]


def mask_identifiers(text: str, identifiers: list[str]) -> str:
    """`text` with each of `identifiers` replaced by its pseudonym."""
    for identifier in identifiers:
        if identifier:
            text = text.replace(identifier, pseudonym(identifier))
    return text
