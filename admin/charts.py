"""Server-side SVG charts: geometry here, markup in the ``chart`` macro of
``_macros.html`` (so Jinja escapes every label). No chart library: the
machines this runs on may have no internet, and the charts needed are simple.

Series may be drawn against a second axis on the right, with a scale of its
own, so that small values (parts used: 6) stay visible beside big ones (a
limit of 3,000). X labels never overlap: they are thinned out to the room
there is, and turned at an angle (shortened if long) when they are wider
than their slot.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal

PALETTE = ("#2a7ab0", "#3c9a5f", "#c0392b", "#8e6bb8", "#d68910", "#17a589")
WIDTH, HEIGHT = 760, 200
WIDEST_BAR = 40
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 40
RIGHT_AXIS = 44  # room for the second axis' labels
CHAR_WIDTH = 6.2  # 11 px system-ui, on average
LINE_HEIGHT = 14
LONGEST_LABEL = 18  # characters of a turned label
MAX_SERIES = 6


@dataclasses.dataclass
class Chart:
    kind: str  # bar | line
    width: int
    height: int
    series: list[dict]  # {name, color, axis, bars: [...]} or {name, color, axis, points}
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    baseline: float
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    y2_ticks: list[tuple[float, str]] = dataclasses.field(default_factory=list)
    rotate: bool = False  # x labels turned at an angle (their anchor is their end)


def is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _nice_top(highest: float) -> float:
    """A round number at or above ``highest``: axis ticks read 0, 50, 100."""
    if highest <= 0:
        return 1.0
    step = 1.0
    while step * 10 < highest:
        step *= 10
    while step > highest:  # below 1: 0.5, 0.25 …
        step /= 10
    for multiple in (1, 2, 2.5, 5, 10):
        if step * multiple >= highest:
            return step * multiple
    return step * 10


def _ticks(top: float, baseline: float, plot_height: float) -> list[tuple[float, str]]:
    ticks = []
    for fraction in (0, 0.5, 1):
        value = top * fraction
        label = f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"
        ticks.append((baseline - plot_height * fraction, label))
    return ticks


def _layout_labels(labels: list[str], slot: float, kind: str) -> tuple[bool, int, list[str], float]:
    """(turned, show every n-th, the labels as shown, room they need below
    the axis). A line's x runs on (days, hours): flat labels, thinned to
    fit. Bars name things: every label if it can be, turned 45 degrees when
    wider than its bar, thinned only when even turned ones would touch."""
    widest = max((len(label) for label in labels), default=0) * CHAR_WIDTH + 8
    flat_room = LINE_HEIGHT + 12
    if widest <= slot:
        return False, 1, labels, flat_room
    if kind == "line":
        return False, math.ceil(widest / slot), labels, flat_room
    shown = [label if len(label) <= LONGEST_LABEL else label[: LONGEST_LABEL - 1] + "…" for label in labels]
    longest = max(len(label) for label in shown) * CHAR_WIDTH
    return True, max(1, math.ceil(LINE_HEIGHT / slot)), shown, longest * 0.71 + LINE_HEIGHT + 4


def build(
    kind: str,
    labels: list[str],
    series: dict[str, list],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    right: dict[str, list] | None = None,
) -> Chart | None:
    """A bar or line chart of ``series`` (name -> values, one per label),
    and of ``right`` against a second axis. ``height`` is the plot's own
    room plus the usual margin; turned labels add to it."""
    right = right or {}
    if not labels or not (series or right):
        return None
    values = {
        name: [float(v) if is_number(v) else 0.0 for v in vals] for name, vals in (series | right).items()
    }
    on_right = set(right)

    def top_of(names) -> float:
        return _nice_top(max((max(values[n], default=0.0) for n in names), default=0.0))

    tops = {"left": top_of(set(values) - on_right), "right": top_of(on_right)}
    right_edge = width - (RIGHT_AXIS if on_right else RIGHT)
    plot_width = right_edge - LEFT
    slot = plot_width / len(labels)
    rotate, every, shown, below = _layout_labels([str(label) for label in labels], slot, kind)
    plot_height = height - TOP - BOTTOM
    baseline = TOP + plot_height
    total_height = int(baseline + max(below, BOTTOM))

    def y(value: float, axis: str) -> float:
        return baseline - plot_height * max(value, 0.0) / tops[axis]

    x_labels = [(LEFT + slot * (i + 0.5), label) for i, label in enumerate(shown) if i % every == 0]
    drawn = []
    for index, (name, vals) in enumerate(values.items()):
        color = PALETTE[index % len(PALETTE)]
        axis = "right" if name in on_right else "left"
        if kind == "line":
            points = [(round(LEFT + slot * (i + 0.5), 1), round(y(v, axis), 1)) for i, v in enumerate(vals)]
            drawn.append(
                {
                    "name": name,
                    "color": color,
                    "axis": axis,
                    "points": points,
                    "path": " ".join(f"{px},{py}" for px, py in points),
                    "labels": [str(label) for label in labels],
                    "values": vals,
                }
            )
        else:
            # Few labels would make slabs of bars: cap the width, centre the group.
            bar = min(slot * 0.8 / len(values), WIDEST_BAR)
            offset = (slot - bar * len(values)) / 2 + bar * index
            drawn.append(
                {
                    "name": name,
                    "color": color,
                    "axis": axis,
                    "bars": [
                        {
                            "x": round(LEFT + slot * i + offset, 1),
                            "y": round(y(v, axis), 1),
                            "w": round(max(bar - 1, 1), 1),
                            "h": round(baseline - y(v, axis), 1),
                            "label": str(labels[i]),
                            "value": f"{v:g}",
                        }
                        for i, v in enumerate(vals)
                    ],
                }
            )
    return Chart(
        kind if kind == "line" else "bar",
        width,
        total_height,
        drawn,
        x_labels,
        _ticks(tops["left"], baseline, plot_height) if set(values) - on_right else [],
        baseline,
        right_edge=right_edge,
        y2_ticks=_ticks(tops["right"], baseline, plot_height) if on_right else [],
        rotate=rotate,
    )


def numeric_columns(columns: list[str], rows: list[tuple]) -> list[str]:
    """Columns whose every value is a number or NULL, and one at least a number."""
    return [
        name
        for i, name in enumerate(columns)
        if all(is_number(row[i]) or row[i] is None for row in rows) and any(is_number(row[i]) for row in rows)
    ]


def from_table(
    kind: str,
    columns: list[str],
    rows: list[tuple],
    *,
    x: str | None = None,
    y: list[str] | None = None,
    y2: list[str] | None = None,
) -> Chart | None:
    """``x`` the labels' column (default the first), ``y`` the series
    (default every numeric column but x), ``y2`` those of them (or others)
    on the second axis. Names not in the result are left out (all of y
    gone: the default)."""
    if len(columns) < 2 or not rows:
        return None
    x = x if x in columns else columns[0]
    numeric = [c for c in numeric_columns(columns, rows) if c != x]
    # Saved columns the query no longer has fall back to the default.
    wanted = [c for c in (y or []) if c in numeric] or numeric
    wanted += [c for c in (y2 or []) if c in numeric and c not in wanted]
    wanted = wanted[:MAX_SERIES]
    if not wanted:
        return None
    index = {name: i for i, name in enumerate(columns)}
    labels = ["" if row[index[x]] is None else str(row[index[x]]) for row in rows]
    right = set(y2 or []) & set(wanted)
    if right == set(wanted):  # all on the right: just one axis, drawn on the left
        right = set()
    return build(
        kind,
        labels,
        {c: [row[index[c]] for row in rows] for c in wanted if c not in right},
        right={c: [row[index[c]] for row in rows] for c in wanted if c in right},
    )
