"""``orchestrator config``: the project file's JSON Schema, and a check of a file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.cli.errors import user_errors
from orchestrator.project.config import config_json_schema
from orchestrator.project.load import load_config


@click.group("config")
def config_group() -> None:
    """The project file: its JSON Schema, and a check of a file."""


@config_group.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the project file (for editors that validate YAML)."""
    click.echo(json.dumps(config_json_schema(), indent=2))


@config_group.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@user_errors
def config_check(path: Path) -> None:
    """Validate a project file; every problem is listed with its line and field path."""
    config = load_config(path)
    cast = (
        f"{len(config.characters)} characters"
        if config.characters
        else "no cast yet: the run proposes one first, in bible.yaml"
    )
    click.echo(f"{path}: ok ({config.project.title!r}, {config.project.chapters} chapters, {cast})")
