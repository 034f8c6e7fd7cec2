"""``orchestrator review RUN``: the figures of a finished run, the writing's first."""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.artifacts.folder import RunFolder
from orchestrator.cli.errors import user_errors
from orchestrator.cli.runs import RUN
from orchestrator.review.printed import review_digest, review_text
from orchestrator.review.review import build_review


@click.command("review", short_help="The figures of a finished run, the writing's first.")
@click.argument("run_dir", metavar="RUN", type=RUN)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@user_errors
def review(run_dir: Path, as_json: bool) -> None:
    """The figures of the finished run in RUN: the writing's (length score, continuations,
    revisions, repeated phrasing, overused phrases and continuity findings per 10,000
    words, foreshadowing paid off on time), book and chapter by chapter, then the
    engineer's (time, model calls, tokens, the store's lock waits)."""
    found = build_review(RunFolder.existing(run_dir))
    if as_json:
        click.echo(json.dumps(review_digest(found), ensure_ascii=False, indent=1))
    else:
        click.echo(review_text(found), nl=False)
