"""Every command has help text (a newcomer finds their way with --help)."""

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from orchestrator.cli.main import COMMANDS, cli


def _subcommand(group: click.Group, name: str) -> click.Command:
    command = group.get_command(click.Context(group), name)  # imports a lazy command
    assert command is not None
    return command


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name in group.list_commands(click.Context(group)):
        command = _subcommand(group, name)
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=lambda p: " ".join(p) or "orchestrator")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = _subcommand(command, name)
    assert command.help, f"{' '.join(path)} has no help text"


def test_the_root_help_imports_no_command_and_lists_each_as_its_own_help() -> None:
    code = (
        "import sys; from orchestrator.cli.main import cli; "
        "cli(['--help'], 'orchestrator', standalone_mode=False, terminal_width=80); "
        "print(sorted(m for m in ('state', 'structlog', 'orchestrator.cli.run', "
        "'orchestrator.cli.bench', 'orchestrator.run', 'pydantic') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lazy_help, imported = proc.stdout.rsplit("\n", 2)[:2]
    assert imported == "[]"
    ctx = click.Context(cli)
    for name in COMMANDS:  # every command imported: listed from its own help now
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(10**6) == COMMANDS[name][2], name
    runner = CliRunner()
    loaded_help = runner.invoke(cli, ["--help"], prog_name="orchestrator", terminal_width=80).output
    assert lazy_help.strip() == loaded_help.strip()
