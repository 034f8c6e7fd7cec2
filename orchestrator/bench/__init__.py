"""Benchmarks that print figures: whole runs, the state store, and the store as
it grows. Imports no other room of ``orchestrator``.
"""
