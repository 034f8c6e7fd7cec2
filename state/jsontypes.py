"""The JSON value type stored in documents and events."""

from __future__ import annotations

from typing import Any, TypeAlias

# A JSON document as decoded by the json module. Kept as Any for ergonomics:
# pydantic models validate the shape at the typed layer.
JSON: TypeAlias = Any
