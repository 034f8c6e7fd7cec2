"""The review of a run in each export format, and the files a run writes at its end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.artifacts.folder import RunFolder

REVIEW_JSON = "review.json"
REPORT_HTML = "report.html"
FORMATS = ("json", "csv", "prom", "html")


def _json(review: dict[str, Any]) -> str:
    return json.dumps(review, indent=1, ensure_ascii=False) + "\n"


def _renderer(fmt: str) -> Callable[[dict[str, Any]], str]:
    # Imported on demand: each format's code (and prometheus_client) only for that format.
    if fmt == "csv":
        from orchestrator.review.csv_rows import review_csv

        return review_csv
    if fmt == "prom":
        from orchestrator.review.prom import review_prometheus

        return review_prometheus
    if fmt == "html":
        from orchestrator.review.html import review_html

        return review_html
    return _json


def render(review: dict[str, Any], fmt: str) -> str:
    """The review as ``json``, ``csv``, ``prom`` or ``html`` text."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    return _renderer(fmt)(review)


def write_run_review(folder: RunFolder, html: bool = True) -> list[Path]:
    """``review.json`` and (unless ``html`` is False) ``report.html`` in the run folder,
    each written atomically."""
    from orchestrator.review.review import build_review

    review = build_review(folder)
    written = [folder.write_text(REVIEW_JSON, render(review, "json"))]
    if html:
        written.append(folder.write_text(REPORT_HTML, render(review, "html")))
    return written
