"""orchestrator.review.review."""
