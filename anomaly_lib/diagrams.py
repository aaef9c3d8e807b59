"""Drawing primitives for architecture and data-flow diagrams: boxes, arrows, labels, a legend.

A ``Diagram`` is a ``matplotlib.figure.Figure`` with one axes measured in layout units
(``unit`` inches each, y pointing up). The method diagrams in ``sagan_lib/diagrams.py`` and
``swssl_lib/diagrams.py`` place boxes on it and fill them with text computed from the model
objects (``traced_shapes``), so a diagram changes when the model does. ``layout_problems``
finds text that spills out of its box or runs into other text, so tests can check that a
diagram stays readable for every configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.path import Path as PolyLine
from torch import nn

from .figures import _save
from .shapes import trace_shapes

FONT_SIZE = 8  # points; box titles are bold, labels one point smaller
LINE_SPACING = 1.3  # line height / font size

FILLS = {  # box kind → fill colour
    "tensor": "#eeeeee",
    "layer": "#cfe2f3",
    "code": "#fce5cd",
    "gate": "#d9ead3",
    "merge": "#d9d2e9",
    "loss": "#f4cccc",
    "store": "#fff2cc",
}
LINES = {  # arrow kind → (colour, line style)
    "data": ("#444444", "-"),
    "skip": ("#38761d", "-"),
    "residual": ("#b45f06", "--"),
    "gradient": ("#cc0000", "--"),
    "flow1": ("#1f5fa8", "-"),
    "flow2": ("#2e8b3a", "-"),
    "flow3": ("#c0651a", "-"),
}


@dataclass(frozen=True)
class Box:
    """A box's centre and size in layout units."""

    x: float
    y: float
    width: float
    height: float

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def right(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y - self.height / 2

    @property
    def top(self) -> float:
        return self.y + self.height / 2

    def port(self, side: str, at: float = 0.5) -> tuple[float, float]:
        """A point on one side; ``at`` runs from 0 (left or bottom end) to 1 (right or top end)."""
        if side in ("left", "right"):
            return (self.left if side == "left" else self.right, self.bottom + at * self.height)
        if side in ("top", "bottom"):
            return (self.left + at * self.width, self.top if side == "top" else self.bottom)
        raise ValueError(f"side must be left, right, top or bottom, got {side!r}")


class Diagram:
    """An empty canvas ``width`` × ``height`` layout units, ``unit`` inches each."""

    def __init__(self, width: float, height: float, unit: float = 0.55, title: str | None = None):
        self.figure = Figure(figsize=(width * unit, height * unit))
        self.ax = self.figure.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(0, height)
        self.ax.set_axis_off()
        self.unit = unit
        if title is not None:
            self.ax.text(0, height, title, ha="left", va="top", fontsize=FONT_SIZE + 2,
                         fontweight="bold", gid="label")

    @property
    def line_height(self) -> float:
        """One line of text at ``FONT_SIZE``, in layout units."""
        return FONT_SIZE * LINE_SPACING / 72 / self.unit

    def box(self, x: float, y: float, width: float, height: float, title: str, body: str = "",
            kind: str = "layer") -> Box:
        """A rounded box centred at (x, y): a bold ``title`` line above the ``body`` lines."""
        if kind not in FILLS:
            raise ValueError(f"box kind must be one of {sorted(FILLS)}, got {kind!r}")
        box = Box(x, y, width, height)
        patch = FancyBboxPatch((box.left, box.bottom), width, height, boxstyle="round,pad=0,rounding_size=0.12",
                               facecolor=FILLS[kind], edgecolor="#555555", linewidth=0.8, gid="box", zorder=2)
        self.ax.add_patch(patch)
        body_lines = body.count("\n") + 1 if body else 0
        top_of_text = y + (1 + body_lines) * self.line_height / 2  # the text block is centred
        self.ax.text(x, top_of_text - self.line_height / 2, title, ha="center", va="center",
                     fontsize=FONT_SIZE, fontweight="bold", gid="box-text", zorder=3)
        if body:
            self.ax.text(x, top_of_text - self.line_height, body, ha="center", va="top",
                         fontsize=FONT_SIZE, linespacing=LINE_SPACING, gid="box-text", zorder=3)
        return box

    def arrow(self, *points, kind: str = "data", label: str | None = None, label_xy=None) -> None:
        """An arrow along the polyline through ``points`` (use ``Box.port`` for box sides).

        The label sits on the middle of the longest segment unless ``label_xy`` says where.
        """
        if kind not in LINES:
            raise ValueError(f"arrow kind must be one of {sorted(LINES)}, got {kind!r}")
        if len(points) < 2:
            raise ValueError("an arrow needs at least two points")
        colour, style = LINES[kind]
        codes = [PolyLine.MOVETO] + [PolyLine.LINETO] * (len(points) - 1)
        self.ax.add_patch(FancyArrowPatch(path=PolyLine(points, codes), arrowstyle="-|>", mutation_scale=11,
                                          color=colour, linestyle=style, linewidth=1.3, zorder=1,
                                          shrinkA=0, shrinkB=0))
        if label is not None:
            if label_xy is None:
                segments = list(zip(points, points[1:]))
                (x0, y0), (x1, y1) = max(segments, key=lambda s: abs(s[1][0] - s[0][0]) + abs(s[1][1] - s[0][1]))
                label_xy = ((x0 + x1) / 2, (y0 + y1) / 2)
            self.label(*label_xy, label, colour=colour)

    def label(self, x: float, y: float, text: str, colour: str = "#222222", ha: str = "center",
              background: bool = True) -> None:
        """Free text, on a white background so that it reads over lines."""
        box = dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none") if background else None
        self.ax.text(x, y, text, ha=ha, va="center", fontsize=FONT_SIZE - 1, color=colour,
                     linespacing=1.15, bbox=box, gid="label", zorder=4)

    def legend(self, boxes: dict[str, str] | None = None, arrows: dict[str, str] | None = None,
               columns: int = 4) -> None:
        """A legend under the canvas: box kinds and arrow kinds, each with what it means here."""
        handles = [Patch(facecolor=FILLS[kind], edgecolor="#555555", label=text)
                   for kind, text in (boxes or {}).items()]
        handles += [Line2D([], [], color=LINES[kind][0], linestyle=LINES[kind][1], linewidth=1.5, label=text)
                    for kind, text in (arrows or {}).items()]
        self.ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=columns,
                       fontsize=FONT_SIZE, frameon=False, handlelength=2.2)

    def finish(self, path=None) -> Figure:
        """The figure, saved as a PNG when ``path`` is given."""
        if path is not None:
            _save(self.figure, path)
        return self.figure


def layout_problems(figure: Figure) -> list[str]:
    """What makes a diagram hard to read: box text outside its box, text on text, box on box.

    Works on any figure drawn with ``Diagram``; an empty list means none was found.
    """
    figure.draw_without_rendering()
    ax = figure.axes[0]
    boxes = [patch.get_window_extent() for patch in ax.patches if patch.get_gid() == "box"]
    texts = [(text, text.get_window_extent()) for text in ax.texts if text.get_text()]
    problems = []
    for i, first in enumerate(boxes):
        problems += [f"two boxes overlap at {first.bounds}" for second in boxes[i + 1:] if first.overlaps(second)]
    for text, extent in texts:
        if text.get_gid() == "box-text":
            if not any(box.contains(extent.x0 + 1, extent.y0 + 1) and box.contains(extent.x1 - 1, extent.y1 - 1)
                       for box in boxes):
                problems.append(f"text {text.get_text()!r} does not fit in its box")
        elif any(extent.overlaps(box) for box in boxes):
            problems.append(f"label {text.get_text()!r} runs into a box")
    for i, (first, first_extent) in enumerate(texts):
        for second, second_extent in texts[i + 1:]:
            if first_extent.overlaps(second_extent.padded(-1)):
                problems.append(f"text {first.get_text()!r} overlaps {second.get_text()!r}")
    return problems


def traced_shapes(model: nn.Module, *inputs) -> dict[str, tuple]:
    """Output shape of each named module on ``inputs`` (moved to the model's device), in eval
    mode, first call only.

    The model's train/eval mode is restored afterwards, so drawing a diagram has no side
    effect (in train mode normalisation layers would update their running statistics). A model
    built on the meta device (``with torch.device("meta"): ...``) works too: it has shapes but
    no numbers, so a full-size model costs nothing to build just for a diagram.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        trace = trace_shapes(model, *(tensor.to(device) for tensor in inputs))
    finally:
        model.train(was_training)
    shapes: dict[str, tuple] = {}
    for row in trace.rows:
        shapes.setdefault(row.name, row.output_shape)
    return shapes


def shape_text(shape) -> str:
    """(4, 128, 16, 16) → "(128, 16, 16)", (4, 512) → "(512,)": the shape without its batch axis."""
    sides = [str(side) for side in tuple(shape)[1:]]
    return "(" + ", ".join(sides) + ("," if len(sides) == 1 else "") + ")"


def count_text(count: int) -> str:
    """Parameter counts, short: 9,153 → "9.2 k", 44,758,979 → "44.8 M"."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= limit:
            return f"{count / limit:.1f} {suffix}"
    return str(count)


def parameter_count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def ordinal_every(n: int) -> str:
    """1 → "every iteration", 2 → "every 2nd iteration", 5 → "every 5th iteration"."""
    if n == 1:
        return "every iteration"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n % 100 not in (11, 12, 13) else 0, "th")
    return f"every {n}{suffix} iteration"

