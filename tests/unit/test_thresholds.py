"""ThresholdMonitor: which windows are over a threshold, and when it speaks."""

from __future__ import annotations

from state.thresholds import Limits, ThresholdMonitor, WindowFigures, recommended_backend


def monitor(**limits: float) -> tuple[ThresholdMonitor, list[WindowFigures]]:
    crossed: list[WindowFigures] = []
    return ThresholdMonitor(Limits(**limits), crossed.append), crossed  # type: ignore[arg-type]


def feed(
    m: ThresholdMonitor, start: float, n: int, every_s: float, wait_s: float, commit_s: float = 0.0
) -> float:
    """``n`` writes ``every_s`` apart, each after ``wait_s`` of lock wait and ``commit_s`` more
    until its commit was durable; the time after."""
    t = start
    for _ in range(n):
        m.observe(t, wait_s, wait_s + commit_s, "commit")
        t += every_s
    return t


def test_a_slow_p99_is_reported_after_window_count_windows() -> None:
    m, crossed = monitor(window_s=1.0, window_ops=1000, window_count=3)
    t = feed(m, 0.0, 100, 0.021, 0.150)  # two 1 s windows close (each ~48 writes)
    assert m.windows == 2
    assert crossed == []
    feed(m, t, 50, 0.021, 0.150)
    assert len(crossed) == 1
    assert crossed[0].over == ("lock_wait_p99",)
    assert crossed[0].lock_wait_p99_ms == 150.0


def test_a_window_closes_by_count_too() -> None:
    m, crossed = monitor(window_s=3600, window_ops=50, window_count=1)
    feed(m, 0.0, 150, 0.0001, 0.2)
    assert m.windows == 3
    assert len(crossed) == 3


def test_a_good_window_resets_the_count() -> None:
    m, crossed = monitor(window_s=3600, window_ops=20, window_count=2)
    t = feed(m, 0.0, 20, 0.01, 0.5)  # over
    t = feed(m, t, 20, 0.01, 0.001)  # fine
    feed(m, t, 20, 0.01, 0.5)  # over, but only one in a row
    assert crossed == []


def test_few_operations_do_not_judge_a_p99() -> None:
    m, crossed = monitor(window_s=1.0, window_count=1, min_ops=20)
    feed(m, 0.0, 5, 0.3, 0.15)  # five writes of 150 ms wait in 1.2 s (0.6 waiting)
    assert crossed == []


def test_a_quiet_store_is_not_a_slow_store() -> None:
    # An LLM-bound run: 2 writes/s, nobody waits. Low throughput alone says nothing.
    m, crossed = monitor(window_s=5.0, window_count=1, min_ops=1000)
    feed(m, 0.0, 40, 0.5, 0.0005)
    assert m.windows >= 3
    assert crossed == []


def test_low_throughput_while_writers_wait_is_over() -> None:
    # 10 writes/s, each after 0.5 s in the queue: 5 writers waiting on average.
    m, crossed = monitor(window_s=2.0, window_count=1, min_ops=1000)
    feed(m, 0.0, 30, 0.1, 0.5)
    assert crossed
    assert crossed[0].over == ("throughput",)
    assert crossed[0].waiting_writers > 1
    assert crossed[0].throughput_ops_s < 30


def test_writers_waiting_for_their_group_commit_count_as_waiting() -> None:
    # One process, group commit: no lock wait to speak of, but every writer waits 0.4 s
    # for the commit its group shares (a JSON store rewriting a large file).
    m, crossed = monitor(window_s=2.0, window_count=1, min_ops=1000)
    feed(m, 0.0, 50, 0.05, 0.0002, commit_s=0.4)
    assert crossed
    assert crossed[0].over == ("throughput",)
    assert crossed[0].lock_wait_p99_ms < 1


def test_reads_are_not_counted() -> None:
    m, crossed = monitor(window_s=3600, window_ops=5, window_count=1, min_ops=1)
    for i in range(50):
        m.observe(i * 0.01, 0.0, 0.001, "read")
    assert m.windows == 0
    assert crossed == []


def test_recommendations_go_one_backend_up() -> None:
    assert recommended_backend("json") == "sqlite"
    assert recommended_backend("sqlite") == "redis"
    assert recommended_backend("redis") is None
