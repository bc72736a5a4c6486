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
        # A traceback quotes values (pydantic's input_value=…, SQLAlchemy's [parameters: …]):
        # formatted here, masked, and kept as exc_text, which formatters print instead.
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal(record.stack_info)
        return True


def _masked(value: object) -> object:
    return mask_personal(value) if isinstance(value, str) else value


_TRACEBACKS = logging.Formatter()
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def install_masking() -> None:
    """Attach the filter to every handler of the root logger (and uvicorn's), once."""
    names = ["", "uvicorn", "uvicorn.access", "uvicorn.error"]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, MaskPersonalFilter) for f in handler.filters):
                handler.addFilter(MaskPersonalFilter())
