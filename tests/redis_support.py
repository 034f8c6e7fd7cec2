"""Redis for tests: namespaces of the shared server, and private servers a test may stop.

The machine's server (127.0.0.1:6379) is shared with other people's tests
running at the same time: every store a test makes lives in a namespace of
its own, and only those namespaces are deleted afterwards (never FLUSHDB).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from pathlib import Path

import redis

from state.backends.redis_url import RedisAddress

SHARED_REDIS = "redis://127.0.0.1:6379/0"
_SESSION = uuid.uuid4().hex[:8]  # tests of another pytest run never share a namespace


def namespace_for(folder: Path) -> str:
    """The namespace a test's store folder stands for."""
    return f"test-{_SESSION}-{hashlib.sha1(str(folder).encode()).hexdigest()[:12]}"


def drop_namespaces(namespaces: Iterable[str], port: int = 6379) -> None:
    """Delete every key of these namespaces (and nothing else)."""
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for namespace in namespaces:
            prefix = RedisAddress(host="127.0.0.1", namespace=namespace).key_prefix
            keys = list(client.scan_iter(match=prefix + "*", count=500))
            if keys:
                client.unlink(*keys)
    finally:
        client.close()
