"""Logging for the server: phone and ID numbers are masked in every record, whoever logs it."""

from __future__ import annotations

import logging

from core.privacy import mask_personal


class MaskPersonalFilter(logging.Filter):
    """Rewrites the message and string extras of each record with citizens' numbers masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The arguments stay arguments: formatters such as uvicorn's access log unpack them.
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _masked(v) for k, v in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = mask_personal(record.msg)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, mask_personal(value))
        return True


def _masked(value: object) -> object:
    return mask_personal(value) if isinstance(value, str) else value


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def install_masking() -> None:
    """Attach the filter to every handler of the root logger (and uvicorn's), once."""
    names = ["", "uvicorn", "uvicorn.access", "uvicorn.error"]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, MaskPersonalFilter) for f in handler.filters):
                handler.addFilter(MaskPersonalFilter())
