"""The ``orchestrator`` command: the root group configures logging and adds the command
groups; each command lives in the module of its concern, and calls into the library.

A command's module is imported only when that command runs (or its help is asked
for): ``orchestrator --help`` lists the commands from the summaries below without
importing the store, the run machinery or the benchmarks. A test checks that every
summary is its command's own short help.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import click

# name: (module, attribute, the first sentence of its help)
COMMANDS: Mapping[str, tuple[str, str, str]] = {
    "init": (
        "orchestrator.cli.init",
        "init",
        "Write a commented project file to start a book from.",
    ),
    "run": (
        "orchestrator.cli.run",
        "run",
        "Plan, write and assemble the novel a project file describes.",
    ),
    "plan": (
        "orchestrator.cli.run",
        "plan",
        "Plan a novel and stop, for the author to edit its outline.",
    ),
    "write": (
        "orchestrator.cli.run",
        "write",
        "Write a planned novel from its outline, edited or not.",
    ),
    "resume": (
        "orchestrator.cli.run",
        "resume",
        "Go on with a run that stopped; committed work is kept.",
    ),
    "sync": (
        "orchestrator.cli.sync",
        "sync",
        "Bring a book in line with the author's edits.",
    ),
    "rewrite": (
        "orchestrator.cli.sync",
        "rewrite",
        "Write one chapter again with the author's notes, then sync.",
    ),
    "status": (
        "orchestrator.cli.run",
        "status",
        "How a run stands: finished, failed, running or interrupted.",
    ),
    "estimate": (
        "orchestrator.cli.estimate",
        "estimate",
        "What a book will cost, and how long its limits allow.",
    ),
    "runs": ("orchestrator.cli.runs", "runs", "List the runs: state, chapters written, cost."),
    "verify": (
        "orchestrator.cli.run",
        "verify_run",
        "Check every file of a run against its manifest.",
    ),
    "worker": (
        "orchestrator.cli.worker",
        "worker",
        "Join a run from this or another machine and write.",
    ),
    "state": (
        "orchestrator.cli.state",
        "state_group",
        "Look into a store, migrate it, or rewind a run.",
    ),
    "config": (
        "orchestrator.cli.project",
        "config_group",
        "The project file: its JSON Schema, and a check of a file.",
    ),
    "metrics": (
        "orchestrator.cli.metrics",
        "metrics_group",
        "A run's figures: lock waits, model calls, tokens, cost.",
    ),
    "review": (
        "orchestrator.cli.review",
        "review",
        "The figures of a finished run, the writing's first.",
    ),
    "models": (
        "orchestrator.cli.models",
        "models_group",
        "The models a project calls.",
    ),
    "bench": (
        "orchestrator.cli.bench",
        "bench",
        "Benchmarks that print figures (never pass/fail on time).",
    ),
    "doctor": (
        "orchestrator.cli.doctor",
        "doctor",
        "Check a run folder or a state store; exit 1 if any check fails.",
    ),
    "publish": (
        "orchestrator.cli.publish",
        "publish",
        "Publish a finished run's manuscript as the current version.",
    ),
    "rollback": (
        "orchestrator.cli.publish",
        "rollback_cmd",
        "Make the version published before the current one current again.",
    ),
    "history": (
        "orchestrator.cli.publish",
        "history",
        "Every publish and rollback, and the current version.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands in ``COMMANDS`` are imported when first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute, _ = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a command not yet imported is listed from its summary."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                summary = click.Command(name, help=COMMANDS[name][2])
                rows.append((name, summary.get_short_help_str(limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Console log level.",
)
@click.version_option(package_name="novel-orchestrator", prog_name="orchestrator")
def cli(log_level: str) -> None:
    """Plan, write and assemble novels with many LLM agents over one consistent story state."""
    from orchestrator.cli import logs  # structlog: only when a command runs

    logs.LOG_LEVEL.set(log_level)
    logs.configure(level=log_level)


def main() -> None:
    cli()
