"""The ticket states (12345 workflow: 受理 → 交办 → 处理 → 反馈 → 办结 → 回访)."""

from __future__ import annotations

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

TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
CHANNELS = ("web", "wechat", "hotline", "api", "rasa")
SATISFACTION = ("满意", "基本满意", "不满意")
