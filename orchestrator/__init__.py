"""The orchestrator: the CLI and everything a run, a worker or an operator does.

Rooms (subpackages) with one job each; see their docstrings and the README
package map. The import rules between them are checked by ``lint-imports``.
"""
