"""Client settings that the project file holds as they are: one definition, its defaults
and limits given once (the config schema uses these models as its sections). Kept apart
from the clients so that reading a project file does not import a provider's SDK."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RetrySettings(BaseModel):
    """How hard to try one call: the config's ``llm.retry`` section, as the client uses it.

    Retried: 429, 529, 500-504, connection errors and timeouts (see ``retry_reason``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(
        default=6, ge=1, le=100, description="tries of one call, the first included"
    )
    initial_wait_s: float = Field(
        default=1.0, ge=0, le=600, description="the first backoff; it doubles each retry"
    )
    max_wait_s: float = Field(default=60.0, ge=0, le=3600, description="the longest single backoff")
    max_total_wait_s: float = Field(
        default=300.0, ge=0, le=86_400, description="give a call up before its waits pass this"
    )
