"""The prompt templates, one per agent and language (``<name>.<lang>.md``).

This folder ships inside the installed package as ``agents.templates`` (see
pyproject.toml): edit the templates here; no prompt text lives in Python.
"""
