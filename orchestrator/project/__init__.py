"""The project file: its schema, the YAML loader with line numbers, ``--set``
overrides, conversion into the agents' and the store's types, and the model
client a project asks for. Imports no other room of ``orchestrator``.
"""
