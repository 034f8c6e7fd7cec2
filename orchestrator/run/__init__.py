"""orchestrator.run.novel."""
