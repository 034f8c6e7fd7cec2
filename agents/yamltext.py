"""YAML read with libyaml's parser when PyYAML was built with it (its wheels are).

The files the package ships (labels, the report's texts, the offline voice, the overused
phrases) are read on every run: PyYAML's pure-Python parser took about 30 ms of the
example novel for them; libyaml's gives the same data in about a tenth of that. Project
files keep their own loader (``orchestrator.project.load``), which records line numbers.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load``, faster; the same data and the same ``yaml.YAMLError``s."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader: no arbitrary objects
