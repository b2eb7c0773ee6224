"""Server-side SVG charts: geometry here, markup in ``_charts.html`` (so
Jinja escapes every label). No chart library: the machines this runs on
may have no internet, and the charts needed are simple."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

PALETTE = ("#2a7ab0", "#3c9a5f", "#c0392b", "#8e6bb8")
WIDTH, HEIGHT = 760, 200
WIDEST_BAR = 40
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 40


@dataclasses.dataclass
class Chart:
    kind: str  # bar | line
    width: int
    height: int
    series: list[dict]  # {name, color, bars: [...]} or {name, color, points}
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    baseline: float
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT


def is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _nice_top(highest: float) -> float:
    """A round number at or above ``highest``: axis ticks read 0, 50, 100."""
    if highest <= 0:
        return 1.0
    step = 1.0
    while step * 10 < highest:
        step *= 10
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


def _label_every(count: int, room: float, label_width: float = 46) -> int:
    return max(1, int(count * label_width / room + 0.999))


def build(
    kind: str, labels: list[str], series: dict[str, list], *, width: int = WIDTH, height: int = HEIGHT
) -> Chart | None:
    """A bar or line chart of ``series`` (name -> values, one per label)."""
    if not labels or not series:
        return None
    values = {name: [float(v) if is_number(v) else 0.0 for v in vals] for name, vals in series.items()}
    top = _nice_top(max((max(v) for v in values.values() if v), default=0.0))
    plot_width = width - LEFT - RIGHT
    plot_height = height - TOP - BOTTOM
    baseline = TOP + plot_height
    slot = plot_width / len(labels)

    def y(value: float) -> float:
        return baseline - plot_height * max(value, 0.0) / top

    every = _label_every(len(labels), plot_width)
    x_labels = [(LEFT + slot * (i + 0.5), str(label)) for i, label in enumerate(labels) if i % every == 0]
    drawn = []
    for index, (name, vals) in enumerate(values.items()):
        color = PALETTE[index % len(PALETTE)]
        if kind == "line":
            points = [(round(LEFT + slot * (i + 0.5), 1), round(y(v), 1)) for i, v in enumerate(vals)]
            drawn.append(
                {
                    "name": name,
                    "color": color,
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
                    "bars": [
                        {
                            "x": round(LEFT + slot * i + offset, 1),
                            "y": round(y(v), 1),
                            "w": round(max(bar - 1, 1), 1),
                            "h": round(baseline - y(v), 1),
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
        height,
        drawn,
        x_labels,
        _ticks(top, baseline, plot_height),
        baseline,
        right_edge=width - RIGHT,
    )


def from_table(kind: str, columns: list[str], rows: list[tuple], max_series: int = 3) -> Chart | None:
    """First column: the labels; following numeric columns: the series."""
    if len(columns) < 2 or not rows:
        return None
    numeric = [
        i
        for i in range(1, len(columns))
        if all(is_number(row[i]) or row[i] is None for row in rows) and any(is_number(row[i]) for row in rows)
    ][:max_series]
    if not numeric:
        return None
    labels = ["" if row[0] is None else str(row[0]) for row in rows]
    return build(kind, labels, {columns[i]: [row[i] for row in rows] for i in numeric})
