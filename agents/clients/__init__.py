"""agents.clients."""
