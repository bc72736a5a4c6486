"""Logging for the server: phone and ID numbers are masked in every record, whoever logs it."""

from __future__ import annotations

import logging

from nlu.validators import mask_personal


class MaskPersonalFilter(logging.Filter):
    """Rewrites the message and string extras of each record with citizens' numbers masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = mask_personal(record.msg)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, mask_personal(value))
        return True


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def install_masking() -> None:
    """Attach the filter to every handler of the root logger (and uvicorn's), once."""
    names = ["", "uvicorn", "uvicorn.access", "uvicorn.error"]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, MaskPersonalFilter) for f in handler.filters):
                handler.addFilter(MaskPersonalFilter())
