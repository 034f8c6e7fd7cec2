"""agents.offline.client."""
