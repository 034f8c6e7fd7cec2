"""Every error class of ``orchestrator``, ``agents`` and ``state``: found by walking the
packages, so a new class is checked without anyone listing it.

Each survives pickling (a worker's error crosses a process boundary intact: same
type, message, arguments and attributes), and each hangs from its package's root,
which gives it an exit code for the CLI.
"""

from __future__ import annotations

import ast
import errno
import importlib
import inspect
import pickle
import pkgutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import orchestrator.errors
from agents.errors import AgentError
from orchestrator.artifacts.folder import RunFolderError
from orchestrator.artifacts.manifest import ManifestError
from orchestrator.errors import EXIT_BAD_INPUT, EXIT_FAILED, OrchestratorError
from orchestrator.ops.publish import GateCheck, GateFailedError
from orchestrator.ops.publish_folder import PublishError
from orchestrator.project.outline_file import OutlineFileError
from orchestrator.project.overrides import OverrideError
from orchestrator.project.problems import ConfigError, ConfigProblem, CrossFieldErrors
from orchestrator.run.outlines import OutlineEditedError
from state.errors import (
    CorruptStateError,
    MigrationError,
    SchemaVersionError,
    StateError,
    StateOpenError,
    StateURLError,
    StoreMigratedError,
)

ROOTS: dict[str, type[Exception]] = {
    "orchestrator": OrchestratorError,
    "agents": AgentError,
    "state": StateError,
}
# Raised and caught inside one module, never seen outside it: no root, no exit code.
INTERNAL = {"state.backends.proclock._WaitExpired"}


def _modules(package: str) -> list[ModuleType]:
    root = importlib.import_module(package)
    names = [
        info.name
        for info in pkgutil.walk_packages(root.__path__, f"{package}.")
        if not info.name.endswith(".__main__")  # runs the CLI when imported
    ]
    return [root, *(importlib.import_module(name) for name in names)]


def _error_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for package in ROOTS:
        for module in _modules(package):
            found += [
                value
                for value in vars(module).values()
                if inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ]
    return sorted(set(found), key=_name)


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


ERRORS = _error_classes()

# Arguments for classes whose parameters say too little to make up a sample.
SPECIAL: dict[type[BaseException], Callable[[], BaseException]] = {
    ConfigError: lambda: ConfigError(
        Path("novel.yaml"),
        [ConfigProblem("project.chapters", "expected a whole number, got 'x'", 9, 13)],
    ),
    OutlineFileError: lambda: OutlineFileError(
        Path("run/outline.yaml"),
        [ConfigProblem("chapters.4.pov", "unknown character 'Nobody'", 40)],
        "zh",
    ),
    CrossFieldErrors: lambda: CrossFieldErrors([(("characters", 2, "name"), "named twice")]),
    GateFailedError: lambda: GateFailedError(
        [GateCheck("finished", True, "yes"), GateCheck("manifest", False, "2 files changed")]
    ),
}
# A sample value for a parameter, by its annotation (annotations are strings here).
BY_ANNOTATION: dict[str, Callable[[str], Any]] = {
    "str": lambda name: f"sample {name}",
    "str | None": lambda name: f"sample {name}",
    "object": lambda name: f"sample {name}",
    "Path": lambda name: Path(f"/srv/sample/{name}"),
    "int": lambda name: 7,
    "float": lambda name: 2.5,
    "list[str]": lambda name: [f"first {name}", f"second {name}"],
    "OSError": lambda name: OSError(errno.ENOSPC, "No space left on device", "/srv/x"),
}


def sample(cls: type[BaseException]) -> BaseException:
    """An instance of ``cls`` with every constructor argument given a telling value."""
    if cls in SPECIAL:
        return SPECIAL[cls]()
    if "__init__" not in vars_up_to_builtin(cls):
        return cls(f"sample message of {cls.__name__}")
    args = []
    for name, param in list(inspect.signature(cls.__init__).parameters.items())[1:]:
        make = BY_ANNOTATION.get(str(param.annotation))
        if make is None:
            pytest.fail(
                f"{_name(cls)}: no sample for parameter {name}: {param.annotation}; "
                "add the class to SPECIAL or the annotation to BY_ANNOTATION"
            )
        args.append(make(name))
    return cls(*args)


def vars_up_to_builtin(cls: type) -> dict[str, Any]:
    """The attributes ``cls`` and its bases define in our code (not in builtins)."""
    merged: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ != "builtins":
            merged.update(vars(klass))
    return merged


def same(a: Any, b: Any) -> bool:
    """Equal, taking exceptions (equal only to themselves) as equal by type and arguments."""
    if isinstance(a, BaseException):
        return type(a) is type(b) and a.args == b.args and str(a) == str(b)
    return bool(a == b)


def state_of(exc: BaseException) -> dict[str, Any]:
    """What a reader of ``exc`` can see: its attributes, and OSError's own fields."""
    seen = dict(vars(exc))
    if isinstance(exc, OSError):
        seen.update(
            errno=exc.errno, strerror=exc.strerror, filename=exc.filename, filename2=exc.filename2
        )
    return seen


def test_the_walk_finds_the_errors() -> None:
    """The walk finds classes in every package, in modules of their own and in feature modules."""
    names = {_name(cls) for cls in ERRORS}
    assert {
        "orchestrator.errors.OrchestratorError",
        "orchestrator.artifacts.folder.DiskSpaceError",
        "agents.errors.ModelCallError",
        "state.leases.LeaseLostError",
        "state.errors.StoreUnreachableError",
    } <= names
    assert len(ERRORS) >= 30


@pytest.mark.parametrize("cls", ERRORS, ids=_name)
def test_every_error_survives_pickling(cls: type[BaseException]) -> None:
    exc = sample(cls)
    exc.add_note("a note added on the way up")
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is cls
    assert str(copy) == str(exc)
    assert copy.args == exc.args
    original, restored = state_of(exc), state_of(copy)
    assert restored.keys() == original.keys()
    for key, value in original.items():
        assert same(restored[key], value), key


@pytest.mark.parametrize("cls", [c for c in ERRORS if _name(c) not in INTERNAL], ids=_name)
def test_every_error_has_its_package_root_and_an_exit_code(cls: type[BaseException]) -> None:
    root = ROOTS[cls.__module__.partition(".")[0]]
    assert issubclass(cls, root)
    assert cls.exit_code in (EXIT_FAILED, EXIT_BAD_INPUT)  # type: ignore[attr-defined]


def test_bad_input_is_what_the_user_gave() -> None:
    """Exit 2 exactly for input errors: the old BAD_INPUT list, and the two config-input
    errors a ConfigError reports."""
    bad_input = {c for c in ERRORS if getattr(c, "exit_code", None) == EXIT_BAD_INPUT}
    roots = (
        ConfigError,
        CrossFieldErrors,
        OverrideError,
        StateURLError,
        StateOpenError,
        CorruptStateError,
        SchemaVersionError,
        RunFolderError,
        ManifestError,
        PublishError,
        MigrationError,
        StoreMigratedError,
        OutlineEditedError,
    )
    assert bad_input == {c for c in ERRORS if issubclass(c, roots)}


def test_the_roots_module_imports_no_feature_module() -> None:
    tree = ast.parse(Path(orchestrator.errors.__file__).read_text(encoding="utf-8"))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert not [name for name in imported if name.split(".")[0] in ROOTS]
