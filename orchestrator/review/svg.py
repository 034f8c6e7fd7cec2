"""A small plotter of inline SVG for the report's charts: axes with round ticks, lines,
markers, bars and a right-hand axis; nothing else.

It replaces matplotlib, whose import cost most of a second of every run with a report.
The SVG holds the numbers of the ticks and nothing else: no font is measured, no id is
made (four charts share one page), and the same figures give the same bytes. Sizes are
pixels of a 96-dpi page; the page scales the drawing down to its width.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

WIDTH = 864  # 9 inches at 96 dpi, as the charts were
GRID = "#dcdcdc"
INK = "#333333"
DASHES = {"dashed": "6 3", "dotted": "2 3"}


@dataclass(frozen=True)
class Scale:
    """Data from ``lo`` to ``hi`` onto pixels from ``start`` to ``end`` (``end`` may be
    smaller: a y axis grows upwards). ``symlog``: linear up to 1, then by powers of ten."""

    lo: float
    hi: float
    start: float
    end: float
    symlog: bool = False

    def _t(self, value: float) -> float:
        return value if not self.symlog or value <= 1 else 1 + math.log10(value)

    def __call__(self, value: float) -> float:
        lo, hi = self._t(self.lo), self._t(self.hi)
        span = hi - lo or 1.0
        return self.start + (self._t(value) - lo) / span * (self.end - self.start)

    def holds(self, value: float) -> bool:
        return min(self.lo, self.hi) <= value <= max(self.lo, self.hi)


def nice_step(span: float, count: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` ticks."""
    raw = max(span, 1e-12) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))


def nice_top(value: float, count: int = 5) -> float:
    """The first round tick at or above ``value`` (an axis from zero ends on a tick)."""
    if value <= 0:
        return 1.0
    step = nice_step(value, count)
    return math.ceil(value / step - 1e-9) * step


def ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round values from ``lo`` to ``hi``, about ``count`` of them."""
    step = nice_step(hi - lo, count)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(n * step, 12) for n in range(first, last + 1)]


def integer_ticks(count: int, most: int = 30, fit: int = 25) -> list[float]:
    """Every whole number from 1 up to ``most``; beyond, about ``fit`` round whole steps."""
    if count <= most:
        return [float(n) for n in range(1, count + 1)]
    step = max(1, round(nice_step(count, fit)))
    return [float(n) for n in range(step, count + 1, step)]


def symlog_ticks(hi: float) -> list[float]:
    """0, 1 and the powers of ten up to ``hi``; a few more in between on a short axis."""
    marks = [0.0, 1.0]
    if hi < 100:
        marks += [0.5, 2.0, 5.0, 20.0, 50.0]
    power = 10.0
    while power <= hi:
        marks.append(power)
        power *= 10
    return sorted(m for m in set(marks) if m <= hi)


def label(value: float, step: float) -> str:
    """A tick's number, with as many decimals as its step needs and thousands separated."""
    if step <= 0:  # one tick alone, or the uneven ticks of a symlog axis
        return f"{value:,g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    scaled = step * 10**decimals
    if abs(scaled - round(scaled)) > 1e-6:  # 2.5, 0.25: one more decimal
        decimals += 1
    return f"{value:,.{decimals}f}"


def _spacing(values: Sequence[float]) -> float:
    gaps = [b - a for a, b in pairwise(values) if b > a]
    return min(gaps, default=0.0)


def _clamp(value: float, scale: Scale) -> float:
    return min(max(value, min(scale.lo, scale.hi)), max(scale.lo, scale.hi))


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass
class Plot:
    """One chart: a plot area in a ``WIDTH`` x ``height`` drawing, scales set by the caller
    (``x``, ``y`` and, for a right-hand axis, ``y2``), marks added in order."""

    height: int
    right_axis: bool = False
    left: int = 72
    top: int = 14
    bottom_margin: int = 40
    marks: list[str] = field(default_factory=list)
    x: Scale | None = None
    y: Scale | None = None
    y2: Scale | None = None
    x_ticks: list[float] = field(default_factory=list)
    y_ticks: list[float] = field(default_factory=list)
    y2_ticks: list[float] = field(default_factory=list)

    @property
    def right(self) -> int:
        return WIDTH - (86 if self.right_axis else 26)

    @property
    def bottom(self) -> int:
        return self.height - self.bottom_margin

    def x_scale(self, lo: float, hi: float, marks: list[float]) -> Scale:
        self.x, self.x_ticks = Scale(lo, hi, self.left, self.right), marks
        return self.x

    def y_scale(self, lo: float, hi: float, marks: list[float], *, down: bool = False,
                symlog: bool = False) -> Scale:  # fmt: skip
        """The left axis; ``down``: ``lo`` at the top (chapter 1 first)."""
        start, end = (self.top, self.bottom) if down else (self.bottom, self.top)
        self.y, self.y_ticks = Scale(lo, hi, start, end, symlog), marks
        return self.y

    def y2_scale(self, lo: float, hi: float, marks: list[float]) -> Scale:
        self.y2, self.y2_ticks = Scale(lo, hi, self.bottom, self.top), marks
        return self.y2

    # -- marks, in data coordinates --------------------------------------------------------

    def line(self, xs: Iterable[float], ys: Iterable[float], color: str, width: float = 2.0,
             *, right: bool = False) -> None:  # fmt: skip
        x, y = self._scales(right)
        points = " ".join(f"{_n(x(a))},{_n(y(b))}" for a, b in zip(xs, ys, strict=True))
        if points:
            self.marks.append(
                f'<polyline points="{points}" fill="none" stroke="{color}" '
                f'stroke-width="{width:g}" stroke-linejoin="round"/>'
            )

    def dots(self, xs: Iterable[float], ys: Iterable[float], color: str, *,
             right: bool = False) -> None:  # fmt: skip
        x, y = self._scales(right)
        self.marks += [
            f'<circle cx="{_n(x(a))}" cy="{_n(y(b))}" r="3.5" fill="{color}"/>'
            for a, b in zip(xs, ys, strict=True)
        ]

    def bars(self, boxes: Iterable[tuple[float, float, float, float]], color: str) -> None:
        """Filled rectangles ``(x0, x1, y0, y1)`` in one colour, as one path (a 1,000-chapter
        book draws thousands), each cut to the plot area and at least a pixel wide."""
        x, y = self._scales(False)
        steps = []
        for x0, x1, y0, y1 in boxes:
            left, right = sorted(x(_clamp(v, x)) for v in (x0, x1))
            top, bottom = sorted(y(_clamp(v, y)) for v in (y0, y1))
            if right > left or x.holds(x0):
                width = max(right - left, 1.0)
                steps.append(f"M{_n(left)} {_n(top)}h{_n(width)}V{_n(bottom)}H{_n(left)}z")
        if steps:
            self.marks.append(f'<path d="{"".join(steps)}" fill="{color}"/>')

    def hline(self, value: float, color: str, style: str = "dashed") -> None:
        _, y = self._scales(False)
        if y.holds(value):
            self._rule(self.left, y(value), self.right, y(value), color, style)

    def vline(self, value: float, color: str, style: str = "dashed") -> None:
        x, _ = self._scales(False)
        if x.holds(value):
            self._rule(x(value), self.top, x(value), self.bottom, color, style)

    def _rule(self, x1: float, y1: float, x2: float, y2: float, color: str, style: str) -> None:
        self.marks.append(
            f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{color}" '
            f'stroke-width="1.5" stroke-dasharray="{DASHES[style]}"/>'
        )

    def _scales(self, right: bool) -> tuple[Scale, Scale]:
        y = self.y2 if right else self.y
        if self.x is None or y is None:
            raise RuntimeError("set the scales before drawing")
        return self.x, y

    # -- the drawing -----------------------------------------------------------------------

    def svg(self) -> str:
        """The chart: grid, then the marks, then the frame, ticks and their numbers."""
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{self.height}" '
            f'viewBox="0 0 {WIDTH} {self.height}" font-size="12" fill="{INK}">',
            *self._grid(),
            *self.marks,
            f'<rect x="{self.left}" y="{self.top}" width="{self.right - self.left}" '
            f'height="{self.bottom - self.top}" fill="none" stroke="{INK}"/>',
            *self._axis_numbers(),
            "</svg>",
        ]
        return "".join(parts)

    def _grid(self) -> list[str]:
        x, y = self._scales(False)
        lines = [
            f'<line x1="{_n(x(v))}" y1="{self.top}" x2="{_n(x(v))}" y2="{self.bottom}"/>'
            for v in self.x_ticks
        ]
        lines += [
            f'<line x1="{self.left}" y1="{_n(y(v))}" x2="{self.right}" y2="{_n(y(v))}"/>'
            for v in self.y_ticks
        ]
        return [f'<g stroke="{GRID}" stroke-width="1">', *lines, "</g>"]

    def _axis_numbers(self) -> list[str]:
        x, y = self._scales(False)
        out = ['<g stroke="none">']
        step = _spacing(self.x_ticks)
        for v in self.x_ticks:
            out.append(self._tick(x(v), self.bottom, 0, 5))
            out.append(self._text(x(v), self.bottom + 18, "middle", label(v, step)))
        step = _spacing(self.y_ticks)
        for v in self.y_ticks:
            out.append(self._tick(self.left, y(v), -5, 0))
            text = label(v, 0.0 if y.symlog else step)
            out.append(self._text(self.left - 8, y(v) + 4, "end", text))
        if self.y2 is not None:
            step = _spacing(self.y2_ticks)
            for v in self.y2_ticks:
                out.append(self._tick(self.right, self.y2(v), 5, 0))
                out.append(self._text(self.right + 8, self.y2(v) + 4, "start", label(v, step)))
        return [*out, "</g>"]

    @staticmethod
    def _tick(x: float, y: float, dx: float, dy: float) -> str:
        return (
            f'<line x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x + dx)}" y2="{_n(y + dy)}" stroke="{INK}"/>'
        )

    @staticmethod
    def _text(x: float, y: float, anchor: str, text: str) -> str:
        return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}">{text}</text>'
