import json
import subprocess
import sys
from pathlib import Path


def test_bench_continuity_prints_its_figures(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "orchestrator", "bench", "continuity"]
    cmd += ["--chapters", "8", "--trials", "2", "--json", "--dir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result["kinds"]) == {"dead", "location", "item", "overall"}
    overall = result["kinds"]["overall"]
    for key in ("injected", "caught_by_read_sets", "caught_by_editor", "caught_by_either"):
        assert 0 <= overall[key] <= overall["injected"]
    assert overall["injected"] == len(result["trials"]) > 0
    assert {"recall", "precision", "false_findings"} <= overall.keys()
    assert {"dependent_chapters", "sent_to_revision"} <= overall["read_sets"].keys()
    assert {"drifted_chapters", "revisions"} <= result["as_written"].keys()
    assert list(tmp_path.iterdir()) == []  # the temporary run is gone
