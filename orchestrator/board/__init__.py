"""orchestrator.board."""
