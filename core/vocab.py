"""The words every layer shares: channels, staff roles, ticket types, states and steps,
satisfaction grades, queues, and the Chinese labels the console and the widget show.

Declared once here, in the bottom layer (no web framework), so that the ticket schemas, the
lifecycle, the server's auth, the connectors and the JavaScript (which reads them from
`GET /api/v1/vocab`) cannot drift apart. Adding a channel or a state starts in this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# --- channels: where a message or a ticket came in ------------------------------------------

Channel = Literal["web", "wechat", "rasa", "hotline", "api"]
"""What a client may name as its channel; it keys sessions and labels metrics, so it is closed."""
CHANNELS: tuple[str, ...] = get_args(Channel)
CHANNEL_LABELS: dict[str, str] = {
    "web": "网站",
    "wechat": "微信",
    "rasa": "Rasa",
    "hotline": "12345热线",
    "api": "接口",
}

# --- staff roles ----------------------------------------------------------------------------

Role = Literal["agent", "handler", "supervisor", "admin"]
"""From least to most trusted; `handler` is a department handler (sees its department only)."""
ROLES: tuple[str, ...] = get_args(Role)
ROLE_LABELS: dict[str, str] = {
    "agent": "话务员",
    "handler": "承办人员",
    "supervisor": "值班长",
    "admin": "管理员",
}

# --- tickets: types, states, the steps between them -----------------------------------------

TicketType = Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"]
TYPES: tuple[str, ...] = get_args(TicketType)
DEFAULT_TYPE: str = "求助"

# The 12345 workflow: 受理 → 交办 → 处理 → 反馈 → 办结 → 回访, plus 合并 for duplicates.
PENDING = "待受理"
ACCEPTED = "已受理"
DISPATCHED = "已交办"
IN_PROGRESS = "处理中"
FEEDBACK = "已反馈"
COMPLETED = "已办结"
CALLED_BACK = "已回访"
MERGED = "已合并"

STATES = (PENDING, ACCEPTED, DISPATCHED, IN_PROGRESS, FEEDBACK, COMPLETED, CALLED_BACK, MERGED)
AWAITING_FEEDBACK = (PENDING, ACCEPTED, DISPATCHED, IN_PROGRESS)
AWAITING_COMPLETION = (FEEDBACK,)
OPEN = (*AWAITING_FEEDBACK, FEEDBACK)
TERMINAL = (CALLED_BACK, MERGED)

Satisfaction = Literal["满意", "基本满意", "不满意"]
SATISFACTION: tuple[str, ...] = get_args(Satisfaction)

CENTRE = "centre"
"""Steps the 12345 centre takes (agents)."""
HANDLER = "handler"
"""Steps the handling department takes (the ticket's department's handlers)."""
STEP_ROLES: dict[str, tuple[str, ...]] = {CENTRE: ("agent",), HANDLER: ("handler",)}
"""Who takes a step of each side; a handler only for tickets of their own department."""
OVERSEER_ROLES: tuple[str, ...] = ("supervisor", "admin")
"""Roles that may take every step."""


@dataclass(frozen=True)
class Step:
    action: str
    by: str  # CENTRE or HANDLER


TRANSITIONS: dict[tuple[str, str], Step] = {
    (PENDING, ACCEPTED): Step("accept", CENTRE),
    (ACCEPTED, DISPATCHED): Step("dispatch", CENTRE),
    (DISPATCHED, DISPATCHED): Step("redispatch", CENTRE),
    (DISPATCHED, IN_PROGRESS): Step("start", HANDLER),
    (DISPATCHED, ACCEPTED): Step("return", HANDLER),
    (IN_PROGRESS, ACCEPTED): Step("return", HANDLER),
    (IN_PROGRESS, FEEDBACK): Step("feedback", HANDLER),
    (FEEDBACK, COMPLETED): Step("complete", CENTRE),
    (COMPLETED, CALLED_BACK): Step("callback", CENTRE),
    **{(state, MERGED): Step("merge", CENTRE) for state in (PENDING, ACCEPTED, DISPATCHED, IN_PROGRESS)},
}

STEP_LABELS: dict[str, str] = {
    "accept": "受理",
    "dispatch": "交办",
    "redispatch": "重新交办",
    "start": "开始处理",
    "return": "退回",
    "feedback": "反馈",
    "complete": "办结",
    "callback": "回访",
    "merge": "合并",
}
AUDIT_LABELS: dict[str, str] = {
    **STEP_LABELS,
    "create": "创建",
    "update": "修改",
    "escalate": "超时督办",
    "rate": "评价",
    "platform_consent": "同意推送号码",
    "recalendar": "按官方日历重算时限",
    "assign": "指派",
    "note": "内部备注",
    "promote_faq": "转为常见问题",
}
"""Every action an audit entry records: the steps, plus what happens outside the state machine."""

STAFF_ACTION_LABELS: dict[str, str] = {
    "user.create": "创建账号",
    "user.update": "修改账号",
    "kb.import": "导入知识文件",
    "kb.edit": "修改知识条目",
    "kb.unpublish": "下架知识条目",
    "kb.faq": "未答问题转常见问题",
}
"""What the staff actions log records (tickets/staff_audit.py), as the administration pages show it."""

URGENCY_LABELS: dict[str, str] = {"urgent": "紧急", "normal": "一般"}

QUEUE_LABELS: dict[str, str] = {
    "mine": "我的工单",
    "department": "本部门",
    "at_risk": "即将超时",
    "overdue": "已超时",
    "open": "全部在办",
    "awaiting_callback": "待回访",
    "closed": "已办结",
    "all": "全部",
}
QUEUES: tuple[str, ...] = tuple(QUEUE_LABELS)

TICKET_FIELD_LABELS: dict[str, str] = {
    "status": "状态",
    "title": "标题",
    "content": "诉求内容",
    "type": "类型",
    "category": "分类",
    "department": "承办部门",
    "assignee": "处理人",
    "urgency": "紧急程度",
    "urgent_reason": "紧急原因",
    "citizen_name": "市民姓名",
    "phone": "来电号码",
    "location": "地点",
    "channel": "渠道",
    "created_by": "创建人",
    "received_at": "受理时间",
    "feedback_deadline": "反馈期限",
    "completion_deadline": "办结期限",
    "feedback_at": "反馈时间",
    "completed_at": "办结时间",
    "satisfaction": "满意度",
    "callback_result": "回访结果",
    "duplicate_of": "疑似重复",
    "merged_into": "已合并至",
    "escalation_level": "督办级别",
}
"""A ticket's fields as staff read them, in the order the console shows them."""

# --- knowledge items ---------------------------------------------------------------------------

GUIDE_FIELD_LABELS: dict[str, str] = {
    "body": "事项说明",
    "conditions": "申请条件",
    "materials": "申请材料",
    "steps": "办理流程",
    "location": "办理地点",
    "office_hours": "办公时间",
    "legal_time_limit": "法定办结时限",
    "promised_time_limit": "承诺办结时限",
    "fees": "收费标准",
    "phone_enquiry": "咨询电话",
    "phone_complaint": "投诉电话",
    "online_url": "网上办理",
    "department": "实施部门",
    "targets": "服务对象",
}
"""The fields a citizen may ask about, in the order an answer card shows them, with the label
used in replies (and read back from Markdown guides' `## 申请材料` headings)."""

ITEM_TEXT_LABELS: dict[str, str] = {"answer": "答复", "text": "内容"}
"""The body of an FAQ (answer) and of a policy chunk (text)."""

ITEM_KIND_LABELS: dict[str, str] = {"guide": "办事指南", "faq": "常见问题", "policy": "政策文件"}
