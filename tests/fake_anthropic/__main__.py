"""``python -m tests.fake_anthropic [--port 8765] [--script faults.json]``: serve until Ctrl-C.

Then, in another shell (any key will do; the fake only checks one is sent)::

    ANTHROPIC_API_KEY=sk-fake ANTHROPIC_BASE_URL=http://127.0.0.1:8765 \\
        orchestrator run config.yaml --set llm.provider=anthropic \\
        --set llm.model=claude-sonnet-4-5
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from tests.fake_anthropic.faults import load_script
from tests.fake_anthropic.server import FakeAnthropic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_anthropic", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--script", type=Path, help="a JSON file of fault rules (faults.py)")
    args = parser.parse_args(argv)
    rules = load_script(args.script) if args.script else []
    fake = FakeAnthropic(rules=rules, port=args.port).start()
    sys.stderr.write(f"fake Messages API on {fake.url} ({len(rules)} fault rules); Ctrl-C stops\n")
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
