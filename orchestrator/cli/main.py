"""The ``orchestrator`` command: the root group configures logging and adds the command
groups; each command lives in the module of its concern, and calls into the library."""

from __future__ import annotations

import click

from orchestrator.cli import logs
from orchestrator.cli.bench import bench
from orchestrator.cli.doctor import doctor
from orchestrator.cli.metrics import metrics_group
from orchestrator.cli.models import models_group
from orchestrator.cli.project import config_group
from orchestrator.cli.publish import history, publish, rollback_cmd
from orchestrator.cli.run import resume, run, status, verify_run
from orchestrator.cli.runs import runs
from orchestrator.cli.state import state_group
from orchestrator.cli.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    logs.LOG_LEVEL.set(log_level)
    logs.configure(level=log_level)


for command in (
    run,
    resume,
    status,
    runs,
    verify_run,
    worker,
    state_group,
    config_group,
    metrics_group,
    models_group,
    bench,
    doctor,
    publish,
    rollback_cmd,
    history,
):
    cli.add_command(command)


def main() -> None:
    cli()
