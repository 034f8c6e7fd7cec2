"""Logging set-up, done once by the CLI: structlog to stderr, and JSON lines to a file."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import structlog

# The console level the root command was given; a run keeps it when it adds its log file.
LOG_LEVEL: ContextVar[str] = ContextVar("log_level", default="warning")

SECRET_FIELDS = frozenset({"api_key", "authorization", "x-api-key", "password"})


def redact_secrets(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Never let a secret reach a log line, whatever a caller passes."""
    for key in list(event):
        if key.lower() in SECRET_FIELDS:
            event[key] = "[redacted]"
    return event


def configure(
    level: str = "info",
    json_file: Path | None = None,
    console: bool = True,
    file_level: str = "info",
) -> None:
    """Console output for people at ``level``, optional JSON lines at ``file_level``."""
    handlers: list[logging.Handler] = []
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(level.upper())
        handlers.append(stream)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(json_file, encoding="utf-8")
        file.setLevel(file_level.upper())
        handlers.append(file)
    # A log line that cannot be written (a full disk) must neither stop the run nor print
    # a traceback; the error that matters reaches the user through the run itself.
    logging.raiseExceptions = False
    root = logging.getLogger()
    for old in root.handlers:
        old.close()  # a file handler of an earlier configure would leak its file
    root.handlers[:] = []
    for handler in handlers:
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processor=structlog.processors.JSONRenderer()
                if isinstance(handler, logging.FileHandler)
                else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
                foreign_pre_chain=[structlog.processors.TimeStamper(fmt="iso")],
            )
        )
        root.addHandler(handler)
    levels = [h.level for h in handlers] or [logging.getLevelName(level.upper())]
    root.setLevel(min(levels))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            redact_secrets,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


@contextmanager
def errors_only() -> Iterator[None]:
    """Console warnings held back while checks run whose failure is a message of its own
    (a state server retried before it is found unreachable): the user gets that one line.
    A ``--log-level`` of info or debug still shows everything."""
    if LOG_LEVEL.get() in ("debug", "info"):
        yield
        return
    streams = [
        (handler, handler.level)
        for handler in logging.getLogger().handlers
        if type(handler) is logging.StreamHandler
    ]
    for handler, _ in streams:
        handler.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for handler, level in streams:
            handler.setLevel(level)
