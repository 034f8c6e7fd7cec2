"""The run folder (its lock, the free-disk guard), the manifest of digests, the
book, its EPUB, and assembly. Imports no other room of ``orchestrator``.
"""
