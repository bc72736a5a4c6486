"""The chat form that turns a complaint into a ticket, one question per turn.

description → location → phone → name (optional) → consent → confirm. Each step
either fills its slot from the citizen's answer or asks again with the reason;
"取消" leaves the form at any step. Pure logic: the assistant stores the form in
the session and calls the ticket desk when the citizen confirms.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from core.privacy import mask_personal
from nlu.message import ParsedMessage
from nlu.validators import is_valid_phone

Step = Literal["description", "location", "phone", "name", "consent", "confirm"]
STEPS: tuple[Step, ...] = ("description", "location", "phone", "name", "consent", "confirm")

CANCEL_WORDS = ("取消", "算了", "不提交", "不用了", "退出", "不要了", "不投诉了")
YES_WORDS = (
    "同意",
    "可以",
    "确认",
    "确定",
    "提交",
    "是的",
    "好的",
    "好",
    "是",
    "对",
    "行",
    "嗯",
    "ok",
    "yes",
)
NO_WORDS = ("不同意", "不可以", "不愿意", "不要", "不用", "否", "不")
SKIP_WORDS = ("跳过", "匿名", "不留", "不方便", "无", "没有", "不用")
EDIT_WORDS = ("修改", "重填", "改一下", "重新填")

MIN_DESCRIPTION_CHARS = 8
MAX_SLOT_CHARS = 500
_REQUEST_WORDS = re.compile(
    r"(我要|我想|帮我|请)?(提交|登记|反映|投诉|举报|建议|求助)(一下|一个)?(诉求|工单|问题)?"
)


class TicketForm(BaseModel):
    """The slots collected so far; stored in the session between turns."""

    form_id: str = Field(default_factory=lambda: secrets.token_hex(8))  # the submission's idempotency key
    step: Step = "description"
    description: str = ""
    location: str = ""
    phone: str = ""
    name: str = ""
    contact_consent: bool | None = None
    category: str | None = None
    ticket_type: str = "投诉"
    name_asked: bool = False

    def summary(self) -> str:
        """What the citizen confirms; numbers typed into the text are masked as well, since the
        summary also travels through outboxes and channel logs."""
        lines = [
            f"诉求内容：{mask_personal(self.description)}",
            f"事发地点：{mask_personal(self.location)}",
            f"联系电话：{mask_personal(self.phone)}",
            f"姓名：{self.name or '未留'}",
            f"同意将联系方式转交承办部门：{'是' if self.contact_consent else '否'}",
        ]
        if self.category:
            lines.insert(1, f"问题分类：{self.category}")
        return "\n".join(lines)


@dataclass
class FormTurn:
    """What the assistant should say next; `submit` means every slot is filled and confirmed."""

    prompt: str  # response name in responses.yml
    values: dict[str, str] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    submit: bool = False
    cancelled: bool = False


def _words(text: str) -> str:
    return re.sub(r"[\s。.！!,，？?~～]", "", text).lower()


def matches(text: str, words: tuple[str, ...]) -> bool:
    """The answer is one of `words` (give or take a particle): 好的, 同意！, 取消吧."""
    compact = _words(text)
    return compact in words or any(compact.startswith(w) and len(compact) <= len(w) + 2 for w in words)


def wants_ticket(text: str) -> bool:
    """ "我要提交诉求" and the like: a request for the form itself, with no matter described yet."""
    compact = _words(text)
    return bool(compact) and _REQUEST_WORDS.fullmatch(compact) is not None


def start(parsed: ParsedMessage, *, describes_matter: bool) -> TicketForm:
    """A new form, pre-filled from the message that led to it."""
    form = TicketForm(category=parsed.category)
    if describes_matter and len(parsed.text) >= MIN_DESCRIPTION_CHARS and not wants_ticket(parsed.text):
        form.description = parsed.raw.strip()[:MAX_SLOT_CHARS]  # the citizen's own words
        phone = parsed.first("phone")
        if phone and is_valid_phone(phone.value):
            form.phone = phone.value
    form.step = next_step(form)
    return form


def next_step(form: TicketForm) -> Step:
    """The first step whose slot is still empty."""
    if not form.description:
        return "description"
    if not form.location:
        return "location"
    if not form.phone:
        return "phone"
    if not form.name_asked:
        return "name"
    if form.contact_consent is None:
        return "consent"
    return "confirm"


def ask(form: TicketForm) -> FormTurn:
    """The question for the form's current step."""
    if form.step == "consent":
        return FormTurn("utter_form_ask_consent", choices=["同意", "不同意"])
    if form.step == "confirm":
        return FormTurn(
            "utter_form_confirm", {"summary": form.summary()}, choices=["确认提交", "修改", "取消"]
        )
    if form.step == "name":
        return FormTurn("utter_form_ask_name", choices=["跳过"])
    return FormTurn(f"utter_form_ask_{form.step}")


def advance(form: TicketForm, parsed: ParsedMessage) -> FormTurn:
    """Fill the current step from the citizen's answer and say what comes next."""
    text = parsed.text.strip()
    raw = parsed.raw.strip()  # slots keep the citizen's own words; matching uses the normalised text
    if matches(text, CANCEL_WORDS):
        return FormTurn("utter_form_cancelled", cancelled=True)
    step = form.step
    if step == "description":
        if len(text) < MIN_DESCRIPTION_CHARS or wants_ticket(text):
            return FormTurn("utter_form_description_too_short", {"min": str(MIN_DESCRIPTION_CHARS)})
        form.description = raw[:MAX_SLOT_CHARS]
    elif step == "location":
        if len(_words(text)) < 2:
            return FormTurn("utter_form_ask_location")
        form.location = raw[:MAX_SLOT_CHARS]
    elif step == "phone":
        entity = parsed.first("phone")
        digits = entity.value if entity else re.sub(r"\D", "", text)
        if not is_valid_phone(digits):
            return FormTurn("utter_form_phone_invalid")
        form.phone = digits
    elif step == "name":
        form.name = "" if matches(text, SKIP_WORDS) else raw[:40]
        form.name_asked = True
    elif step == "consent":
        if matches(text, NO_WORDS):
            form.contact_consent = False
        elif matches(text, YES_WORDS):
            form.contact_consent = True
        else:
            return ask(form)
    elif step == "confirm":
        if matches(text, EDIT_WORDS):
            form.description = form.location = ""
            form.contact_consent = None
            form.step = "description"
            return FormTurn("utter_form_edit")
        if matches(text, YES_WORDS):
            return FormTurn("utter_form_submitting", submit=True)
        return ask(form)
    form.step = next_step(form)
    return ask(form)
