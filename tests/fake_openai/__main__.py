"""``python -m tests.fake_openai [--port 8766] [--prefix /v1] [--script faults.json]``.

Serves until Ctrl-C. Then, in another shell (no key needed: the server is local)::

    orchestrator run config.yaml --set llm.provider=openai --set llm.model=deepseek-chat \\
        --set llm.base_url=http://127.0.0.1:8766/v1
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from tests.fake_anthropic.faults import load_script
from tests.fake_openai.server import FakeOpenAI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_openai", description=__doc__)
    parser.add_argument("--port", type=int, default=8766, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--prefix", default="/v1", help="the path of the base URL ('' for none)")
    parser.add_argument("--script", type=Path, help="a JSON file of fault rules")
    args = parser.parse_args(argv)
    rules = load_script(args.script) if args.script else []
    fake = FakeOpenAI(rules=rules, port=args.port, prefix=args.prefix).start()
    sys.stderr.write(f"fake Chat Completions on {fake.url} ({len(rules)} fault rules); Ctrl-C\n")
    sys.stderr.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
        for entry in fake.requests:
            sys.stderr.write(f"{entry.agent} ch {entry.chapter} fault {entry.fault}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
